import { RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Properties of {@link EgressVpc}. */
export interface EgressVpcProps {
  /**
   * Allocation id of an existing Elastic IP (`eipalloc-…`) for the NAT gateway. Use it to keep the egress IP
   * that is already on WeChat's IP whitelist when the stack is rebuilt.
   * @default - a new Elastic IP is created and retained when the stack is deleted
   */
  readonly eipAllocationId?: string;
  /**
   * Availability zones for the private subnets the functions run in. There is still only one NAT gateway,
   * because WeChat's whitelist should hold one IP; the other zone reaches it across zones.
   * @default 2
   */
  readonly maxAzs?: number;
  /**
   * Retention of the VPC flow log (all traffic), the record of what left through the egress IP.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly flowLogRetention?: logs.RetentionDays;
}

/**
 * The network every function runs in: private subnets whose only way out is ONE NAT gateway on ONE Elastic
 * IP, so every call to api.weixin.qq.com comes from the single address registered on the platform's IP
 * whitelist (第三方平台 → 开发资料 → 白名单; WeChat answers 61004 otherwise).
 *
 * A created Elastic IP is retained when the stack is deleted: losing it would mean a new IP and a new
 * whitelist entry before the service works again. Functions get a shared security group that only allows
 * outbound HTTPS. DynamoDB traffic uses a free gateway endpoint instead of the NAT.
 */
export class EgressVpc extends Construct {
  readonly vpc: ec2.Vpc;
  /** Subnets for the functions: private, default route to the NAT gateway. */
  readonly functionSubnets: ec2.SubnetSelection = {
    subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
  };
  /** Security group for the functions: no inbound, outbound HTTPS only. */
  readonly functionSecurityGroup: ec2.SecurityGroup;
  /** The NAT gateway's Elastic IP allocation id (a token when the EIP is created here). */
  readonly eipAllocationId: string;
  /** The egress public IP when the EIP is created here; undefined when it was imported by allocation id. */
  readonly egressIp?: string;

  constructor(scope: Construct, id: string, props: EgressVpcProps = {}) {
    super(scope, id);

    if (props.eipAllocationId) {
      this.eipAllocationId = props.eipAllocationId;
    } else {
      const eip = new ec2.CfnEIP(this, 'NatEip', { domain: 'vpc' });
      eip.applyRemovalPolicy(RemovalPolicy.RETAIN);
      Tags.of(eip).add('Name', 'wechat-token-service-egress');
      this.eipAllocationId = eip.attrAllocationId;
      // Ref of AWS::EC2::EIP is its public IP.
      this.egressIp = eip.ref;
    }

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: props.maxAzs ?? 2,
      natGateways: 1,
      natGatewayProvider: ec2.NatProvider.gateway({ eipAllocationIds: [this.eipAllocationId] }),
      subnetConfiguration: [
        {
          name: 'Public',
          subnetType: ec2.SubnetType.PUBLIC,
          cidrMask: 24,
          mapPublicIpOnLaunch: false,
        },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
      gatewayEndpoints: {
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogGroup', {
      retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.functionSecurityGroup = new ec2.SecurityGroup(this, 'FunctionSecurityGroup', {
      vpc: this.vpc,
      description: 'Token service functions: no inbound, outbound HTTPS only',
      allowAllOutbound: false,
    });
    this.functionSecurityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to WeChat (via NAT) and AWS APIs'
    );
  }
}
