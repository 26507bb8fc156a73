/** The one parser of the http(s) URLs the load-test commands take (--target, --prometheus). */
import { UserError } from '../errors.ts';

export interface HttpUrlOptions {
  /** The flag the URL came from, as the user typed it: --target. */
  readonly flag: string;
  /** A URL the flag takes, for the message: "like http://127.0.0.1:8080". */
  readonly example: string;
  /** A query or fragment: refused with this reason (a base URL takes none), or dropped when absent. */
  readonly refuseQuery?: string;
}

/** An http:// or https:// URL; a UserError naming the flag and an example otherwise. */
export function parseHttpUrl(value: string, opts: HttpUrlOptions): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UserError(`${opts.flag} must be a URL ${opts.example}, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`${opts.flag} must be an http:// or https:// URL, got "${value}"`);
  if (url.search || url.hash) {
    if (opts.refuseQuery) throw new UserError(`${opts.flag} ${opts.refuseQuery}; got "${value}"`);
    url.search = '';
    url.hash = '';
  }
  return url;
}

/** The API's base URL a run loads (a path, if any, prefixes every route). */
export function parseTargetUrl(value: string): URL {
  return parseHttpUrl(value, { flag: '--target', example: 'like http://127.0.0.1:8080', refuseQuery: "is the API's base URL, without a query or fragment" });
}

/** Prometheus' base URL (a path prefix is kept: http://host/prometheus). */
export function parsePrometheusUrl(value: string | undefined): URL {
  if (!value) throw new UserError('say which Prometheus the runners wrote to: --prometheus URL, e.g. http://127.0.0.1:9090 after kubectl port-forward');
  return parseHttpUrl(value, { flag: '--prometheus', example: 'such as http://127.0.0.1:9090' });
}
