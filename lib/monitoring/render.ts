import { stringify } from 'yaml';

/** YAML as every config file here is written: no line folding, so long expressions stay greppable. */
export function renderYaml(doc: unknown): string {
  return stringify(doc, { lineWidth: 0 });
}
