/** One parser for the URLs the load-test commands take: --target refuses a query, --prometheus drops it. */
import { describe, expect, it } from 'vitest';
import { parsePrometheusUrl, parseTargetUrl } from '../../lib/loadtest/url.ts';

describe('load-test URLs', () => {
  it('--target: an http(s) base URL, its path kept, no query or fragment', () => {
    expect(parseTargetUrl('http://127.0.0.1:8080/v1').href).toBe('http://127.0.0.1:8080/v1');
    expect(() => parseTargetUrl('nope')).toThrow('--target must be a URL like http://127.0.0.1:8080, got "nope"');
    expect(() => parseTargetUrl('ftp://x')).toThrow('--target must be an http:// or https:// URL, got "ftp://x"');
    expect(() => parseTargetUrl('http://x/?a=1')).toThrow(`--target is the API's base URL, without a query or fragment; got "http://x/?a=1"`);
  });

  it('--prometheus: required, a path prefix kept, a query or fragment dropped', () => {
    expect(parsePrometheusUrl('https://host/prometheus?x=1#y').href).toBe('https://host/prometheus');
    expect(() => parsePrometheusUrl(undefined)).toThrow('say which Prometheus the runners wrote to: --prometheus URL');
    expect(() => parsePrometheusUrl('localhost:9090')).toThrow('--prometheus must be an http:// or https:// URL, got "localhost:9090"');
    expect(() => parsePrometheusUrl('::')).toThrow('--prometheus must be a URL such as http://127.0.0.1:9090, got "::"');
  });
});
