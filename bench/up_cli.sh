#!/usr/bin/env bash
# The same create calls `opslib up` makes, as a user would otherwise script them with the
# AWS CLI (one `aws` process per call). Documents (policies, pipeline, dashboard, ...) are
# files in $DOCS, written beforehand by bench/up_vs_cli.py from the same opslib functions.
# Usage: STACK=... ACCOUNT=... REGION=... DOCS=dir FLEET_SIZE=n bench/up_cli.sh
set -euo pipefail
: "${STACK:?}" "${ACCOUNT:?}" "${REGION:?}" "${DOCS:?}" "${FLEET_SIZE:=3}"
export AWS_DEFAULT_REGION="$REGION"
TAG="Key=opslib:stack,Value=$STACK"
BUCKET="$STACK-artifacts-$ACCOUNT-$REGION"
q() { aws "$@" --output text; }

CONN=$(q codestar-connections create-connection --provider-type GitHub \
  --connection-name "$STACK-github" --tags "$TAG" "Key=opslib:local-repository,Value=$REPOSITORY" \
  --query ConnectionArn)
for group in "/aws/codebuild/$STACK-build" "/$STACK/codedeploy-agent-deployments" "/$STACK/app" "/aws/events/$STACK"; do
  aws logs create-log-group --log-group-name "$group" --tags "opslib:stack=$STACK"
  aws logs put-retention-policy --log-group-name "$group" --retention-in-days 14
done
TOPIC=$(q sns create-topic --name "$STACK-notifications" --tags "$TAG" --query TopicArn)

aws s3api create-bucket --bucket "$BUCKET" >/dev/null
aws s3api put-bucket-tagging --bucket "$BUCKET" --tagging "TagSet=[{$TAG}]"
aws s3api put-bucket-versioning --bucket "$BUCKET" --versioning-configuration Status=Enabled
aws s3api put-bucket-encryption --bucket "$BUCKET" --server-side-encryption-configuration \
  '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
aws s3api put-public-access-block --bucket "$BUCKET" --public-access-block-configuration \
  BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
aws s3api put-bucket-policy --bucket "$BUCKET" --policy "file://$DOCS/bucket-policy.json"
aws s3api put-bucket-lifecycle-configuration --bucket "$BUCKET" \
  --lifecycle-configuration "file://$DOCS/lifecycle.json"
aws ssm put-parameter --name AmazonCloudWatch-linux --type String \
  --value "file://$DOCS/agent-config.json" --tags "$TAG" >/dev/null

sed "s|@CONNECTION@|$CONN|" "$DOCS/policy-codepipeline.json" >"$DOCS/policy-codepipeline.final.json"
for service in codepipeline codebuild codedeploy ec2; do
  aws iam create-role --role-name "$STACK-$service" --tags "$TAG" \
    --assume-role-policy-document "file://$DOCS/trust-$service.json" >/dev/null
  policy="$DOCS/policy-$service.json"
  [[ $service == codepipeline ]] && policy="$DOCS/policy-codepipeline.final.json"
  aws iam put-role-policy --role-name "$STACK-$service" --policy-name least-privilege \
    --policy-document "file://$policy"
done
aws iam create-instance-profile --instance-profile-name "$STACK-ec2" --tags "$TAG" >/dev/null
aws iam add-role-to-instance-profile --instance-profile-name "$STACK-ec2" --role-name "$STACK-ec2"

VPC=$(q ec2 describe-vpcs --filters Name=is-default,Values=true --query 'Vpcs[0].VpcId')
SG=$(q ec2 create-security-group --group-name "$STACK-fleet" --description "app ports" \
  --vpc-id "$VPC" --tag-specifications "ResourceType=security-group,Tags=[{$TAG}]" --query GroupId)
aws ec2 authorize-security-group-ingress --group-id "$SG" --ip-permissions \
  IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges='[{CidrIp=0.0.0.0/0}]' \
  IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges='[{CidrIp=0.0.0.0/0}]' \
  IpProtocol=tcp,FromPort=3000,ToPort=3000,IpRanges='[{CidrIp=0.0.0.0/0}]' >/dev/null
AMI=$(q ssm get-parameter --name /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64 \
  --query Parameter.Value)
IDS=()
for index in $(seq 1 "$FLEET_SIZE"); do
  IDS+=("$(q ec2 run-instances --image-id "$AMI" --instance-type t2.micro --count 1 \
    --iam-instance-profile "Name=$STACK-ec2" --security-group-ids "$SG" \
    --user-data "file://$DOCS/user-data.sh" --query 'Instances[0].InstanceId' \
    --tag-specifications "ResourceType=instance,Tags=[{$TAG},{Key=DeploymentGroup,Value=Production-Fleet},{Key=opslib:fleet-index,Value=$index}]")")
done

for group in jest:TEST coverage:CODE_COVERAGE; do
  aws codebuild create-report-group --name "$STACK-build-${group%%:*}" --type "${group##*:}" \
    --export-config exportConfigType=NO_EXPORT --tags "key=opslib:stack,value=$STACK" >/dev/null
done
aws codebuild create-project --name "$STACK-build" --source type=CODEPIPELINE,buildspec=buildspec.yml \
  --artifacts type=CODEPIPELINE --service-role "arn:aws:iam::$ACCOUNT:role/$STACK-codebuild" \
  --environment type=LINUX_CONTAINER,image=aws/codebuild/standard:7.0,computeType=BUILD_GENERAL1_SMALL \
  --cache "type=S3,location=$BUCKET/build-cache" --timeout-in-minutes 30 \
  --logs-config "cloudWatchLogs={status=ENABLED,groupName=/aws/codebuild/$STACK-build}" \
  --tags "key=opslib:stack,value=$STACK" >/dev/null
aws deploy create-application --application-name "$STACK-app" --compute-platform Server --tags "$TAG" >/dev/null

for name in pipeline-failures deploy-failures app-errors; do
  aws logs put-metric-filter --cli-input-json "file://$DOCS/filter-$name.json"
done
for name in pipeline-failures build-failures deploy-failures app-errors; do
  aws cloudwatch put-metric-alarm --alarm-name "$STACK-$name" --cli-input-json "file://$DOCS/alarm-$name.json" \
    --alarm-actions "$TOPIC" --tags "$TAG"
done
for id in "${IDS[@]}"; do
  aws cloudwatch put-metric-alarm --alarm-name "$STACK-status-$id" --namespace AWS/EC2 \
    --metric-name StatusCheckFailed --dimensions "Name=InstanceId,Value=$id" --statistic Maximum \
    --period 60 --evaluation-periods 2 --threshold 1 --comparison-operator GreaterThanOrEqualToThreshold \
    --treat-missing-data notBreaching --alarm-actions "$TOPIC" --tags "$TAG"
done
aws deploy create-deployment-group --application-name "$STACK-app" --deployment-group-name "$STACK-fleet" \
  --cli-input-json "file://$DOCS/deployment-group.json" --tags "$TAG" >/dev/null
aws logs put-resource-policy --policy-name "$STACK-events-to-logs" \
  --policy-document "file://$DOCS/logs-policy.json" >/dev/null
aws events put-rule --name "$STACK-telemetry" --event-pattern "file://$DOCS/pattern.json" --tags "$TAG" >/dev/null
aws events put-targets --rule "$STACK-telemetry" \
  --targets "Id=events-log-group,Arn=arn:aws:logs:$REGION:$ACCOUNT:log-group:/aws/events/$STACK" >/dev/null
sed "s|@CONNECTION@|$CONN|" "$DOCS/pipeline.json" >"$DOCS/pipeline.final.json"
aws codepipeline create-pipeline --cli-input-json "file://$DOCS/pipeline.final.json" >/dev/null
aws cloudwatch put-dashboard --dashboard-name "$STACK-pipeline" \
  --dashboard-body "file://$DOCS/dashboard.json" >/dev/null
echo "created stack $STACK with the AWS CLI"
