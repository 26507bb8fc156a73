/**
 * The AWS CDK app named in cdk.json. The AWS target is not built yet: say so plainly
 * rather than synthesize an empty cloud assembly that looks like success.
 */
console.error('error: the AWS (CDK) target is not implemented yet; `apistack synth --target k8s` and `apistack cost` work today.');
process.exit(1);
