#!/usr/bin/env node
// Entry shim: runs the TypeScript CLI through tsx so users need no build step.
import { register } from 'tsx/esm/api';

register();
await import('./apistack.ts');
