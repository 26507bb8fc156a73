/** Fargate task sizes live with the profile (every target sizes tasks the same way). */
export { fargateTaskSize } from '../profile/derive.ts';
