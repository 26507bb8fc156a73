import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { manifest } from './common.ts';

/** The namespace, enforcing the Pod Security Standards "restricted" profile. */
export class NamespaceChart extends Chart {
  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile }) {
    super(scope, id);
    manifest(this, 'namespace', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: props.profile.kubernetes.namespace,
        labels: { 'app.kubernetes.io/part-of': 'apistack', 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' },
      },
    });
  }
}
