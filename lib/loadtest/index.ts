/** Load tests: scenarios as data, the local runner, reports and their renderers, comparisons. */
export * from './scenario.ts';
export * from './duration.ts';
export * from './histogram.ts';
export * from './requests.ts';
export * from './setup.ts';
export * from './runner.ts';
export * from './report.ts';
export * from './render.ts';
export { renderHtml } from './render-html.ts';
export * from './wording.ts';
export * from './compare.ts';
export * from './progress.ts';
export * from './url.ts';
export * from './session.ts';
export * from './generator.ts';
export * from './recorder.ts';
