/**
 * The API reads the Postgres password once, when a task starts. After Secrets Manager rotates it,
 * connections the tasks open are refused until the tasks are replaced, so a rotation triggers a
 * rolling deployment of the API: EventBridge sees the rotation succeed, a one-step state machine
 * calls ECS UpdateService with forceNewDeployment (no function to maintain).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ResolvedProfile } from '../profile/index.ts';
import { acknowledge, LOGS_AND_TRACING, retention } from './common.ts';

export class RedeployOnRotation extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile; secret: secretsmanager.ISecret; service: ecs.FargateService }) {
    super(scope, id);
    const redeploy = new tasks.CallAwsService(this, 'ForceNewDeployment', {
      service: 'ecs',
      action: 'updateService',
      parameters: { Cluster: props.service.cluster.clusterArn, Service: props.service.serviceArn, ForceNewDeployment: true },
      iamResources: [props.service.serviceArn],
    });
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: retention(props.profile), removalPolicy: RemovalPolicy.DESTROY });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(redeploy),
      timeout: Duration.minutes(5),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL },
    });
    // Secrets Manager reports rotations to EventBridge as CloudTrail service events (no trail needed).
    this.rule = new events.Rule(this, 'RotationSucceeded', {
      description: `apistack ${props.profile.name}: roll the API tasks when the Postgres password rotates`,
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: { eventName: ['RotationSucceeded'], additionalEventData: { SecretId: [props.secret.secretArn] } },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });
    acknowledge(this.stateMachine, [
      ['AwsSolutions-IAM5', `CDK grants the state machine's logging and tracing on *, as Step Functions requires: ${LOGS_AND_TRACING}; its ECS call is scoped to the API service`, ['Resource::*']],
    ]);
  }
}
