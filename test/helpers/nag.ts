/**
 * What cdk-nag suppressed, as the tests read it: a logger that records every suppressed finding,
 * and the checks that every acknowledgement in a template suppresses something and that every
 * IAM5 acknowledgement names the actions it lets through.
 */
import { Stack } from 'aws-cdk-lib';
import type { INagLogger, NagLoggerSuppressedData, NagLoggerSuppressedErrorData } from 'cdk-nag';
// cdk-nag's own flattening, so resource findings compare exactly as it reports them.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';

export interface Suppression {
  readonly stack: string;
  readonly logicalId: string;
  readonly ruleId: string;
  readonly findingId: string;
  readonly reason: string;
}

/** Receives every cdk-nag result; keeps the suppressed ones. */
export class SuppressionRecorder implements INagLogger {
  readonly suppressions: Suppression[] = [];
  onSuppressed(d: NagLoggerSuppressedData): void {
    this.record(d.resource, d.ruleId, d.findingId, d.suppressionReason);
  }
  onSuppressedError(d: NagLoggerSuppressedErrorData): void {
    this.record(d.resource, 'CdkNagValidationFailure', d.ruleId, d.errorSuppressionReason);
  }
  onCompliance(): void {}
  onNonCompliance(): void {}
  onError(): void {}
  onNotApplicable(): void {}
  of(stack: Stack): Suppression[] {
    return this.suppressions.filter((s) => s.stack === stack.stackName);
  }
  private record(resource: NagLoggerSuppressedData['resource'], ruleId: string, findingId: string, reason: string): void {
    const stack = Stack.of(resource);
    // A granular suppression's reason comes back as "[finding] reason".
    const prefix = `[${findingId}] `;
    this.suppressions.push({ stack: stack.stackName, logicalId: stack.getLogicalId(resource), ruleId, findingId, reason: reason.startsWith(prefix) ? reason.slice(prefix.length) : reason });
  }
}

type Json = Record<string, any>;
interface RuleToSuppress {
  id: string;
  reason: string;
  applies_to?: (string | { regex: string })[];
}

function applies(pattern: string | { regex: string }, findingId: string): boolean {
  if (typeof pattern === 'string') return pattern === findingId;
  const [, source, flags] = /^\/(.*)\/([a-z]*)$/s.exec(pattern.regex)!;
  return new RegExp(source!, flags).test(findingId);
}

/** Acknowledgements (rule, reason, and each finding they name) under which cdk-nag suppressed nothing. */
export function idleAcknowledgements(template: Json, suppressions: readonly Suppression[]): string[] {
  const seen = new Map<string, { id: string; reason: string; pattern?: string | { regex: string } }>();
  for (const r of Object.values(template.Resources as Record<string, Json>)) {
    for (const rule of (r.Metadata?.cdk_nag?.rules_to_suppress ?? []) as RuleToSuppress[]) {
      for (const pattern of rule.applies_to ?? [undefined]) {
        seen.set(JSON.stringify([rule.id, rule.reason, pattern]), { id: rule.id, reason: rule.reason, ...(pattern ? { pattern } : {}) });
      }
    }
  }
  return [...seen.values()]
    .filter(({ id, reason, pattern }) => !suppressions.some((s) => s.ruleId === id && s.reason === reason && (pattern === undefined || applies(pattern, s.findingId))))
    .map(({ id, reason, pattern }) => `${id}${pattern ? ` ${JSON.stringify(pattern)}` : ''}: "${reason}" suppresses nothing`);
}

/** Whether the reason names an action: literally, or by a pattern such as `logs:*LogDelivery`. */
function names(reason: string, action: string): boolean {
  if (reason.includes(action)) return true;
  return (reason.match(/[a-z0-9-]+:[A-Za-z0-9*]*\*[A-Za-z0-9*]*/g) ?? []).some((p) => new RegExp(`^${p.replace(/\*/g, '[A-Za-z0-9]*')}$`).test(action));
}

const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Suppressed IAM5 findings whose reason does not name every action the wildcard lets through. */
export function unnamedIam5(template: Json, suppressions: readonly Suppression[]): string[] {
  const problems: string[] = [];
  for (const s of suppressions.filter((x) => x.ruleId === 'AwsSolutions-IAM5')) {
    const r = template.Resources[s.logicalId] as Json;
    const documents = r.Type === 'AWS::IAM::Role' ? list<Json>(r.Properties.Policies).map((p) => p.PolicyDocument) : [r.Properties.PolicyDocument];
    const statements = documents.flatMap((d) => list<Json>(d.Statement)).filter((st) => st.Effect === 'Allow');
    const [kind, what] = [s.findingId.slice(0, s.findingId.indexOf('::')), s.findingId.slice(s.findingId.indexOf('::') + 2)];
    const actions =
      kind === 'Action' ? [what] : statements.filter((st) => list(st.Resource).some((res) => flattenCfnReference(res) === what)).flatMap((st) => list<string>(st.Action));
    if (actions.length === 0) problems.push(`${s.logicalId} ${s.findingId}: no statement grants it`);
    for (const action of actions) if (!names(s.reason, action)) problems.push(`${s.logicalId} ${s.findingId}: the reason does not name ${action}: "${s.reason}"`);
  }
  return [...new Set(problems)];
}
