import { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { PART_OF } from './common.ts';

/** The namespace, enforcing the Pod Security Standards "restricted" profile. */
export class NamespaceChart extends Chart {
  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile }) {
    super(scope, id);
    new kplus.Namespace(this, 'namespace', {
      metadata: {
        name: props.profile.kubernetes.namespace,
        labels: { 'app.kubernetes.io/part-of': PART_OF, 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' },
      },
    });
  }
}
