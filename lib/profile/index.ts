export * from './schema.ts';
export * from './builtins.ts';
export * from './derive.ts';
export * from './instances.ts';
export * from './errors.ts';
export * from './load.ts';
export * from './workloads.ts';
export * from './app-env.ts';
