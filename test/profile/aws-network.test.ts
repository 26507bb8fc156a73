/** What the AWS target needs of a profile's zones and engine versions, refused when it is loaded (test/aws builds the stacks). */
import { describe, expect, it } from 'vitest';
import { resolveProfileLayer } from '../../lib/profile/index.ts';

describe('profile checks for the AWS target', () => {
  it('at most the zones the region has, named in the region, or listed where apistack does not know its letters', () => {
    expect(() => resolveProfileLayer({ extends: 'loadtest', name: 'four-zones', region: 'eu-west-1', network: { availabilityZones: 4, natGateways: 1 } })).toThrow(
      'network.availabilityZones: eu-west-1 has 3 availability zones (eu-west-1a, eu-west-1b, eu-west-1c); use at most 3',
    );
    expect(() => resolveProfileLayer({ extends: 'loadtest', name: 'tokyo', region: 'ap-northeast-1' })).toThrow(
      'network.availabilityZoneNames: the availability zones of ap-northeast-1 are not known here; list them, e.g. ["ap-northeast-1a", "ap-northeast-1b"]',
    );
    expect(() => resolveProfileLayer({ extends: 'loadtest', name: 'tokyo', region: 'ap-northeast-1', network: { availabilityZoneNames: ['ap-northeast-1a', 'ap-northeast-1c'] } })).not.toThrow();
    expect(() => resolveProfileLayer({ extends: 'loadtest', name: 'x', network: { availabilityZoneNames: ['us-east-1a', 'eu-west-1b'] } })).toThrow('network.availabilityZoneNames: eu-west-1b is not in region us-east-1');
  });

  it('a cache engine version ElastiCache has no parameter family for is refused', () => {
    expect(() => resolveProfileLayer({ extends: 'loadtest', name: 'x', redis: { engine: 'valkey', engineVersion: '9.0' } })).toThrow('redis.engineVersion: valkey 9.0 is not a version apistack deploys on ElastiCache; use one of 7.2, 8.0, 8.1');
  });
});
