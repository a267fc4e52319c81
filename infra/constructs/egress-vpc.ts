import { RemovalPolicy, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Availability zones of the functions' private subnets (and of the NAT gateways with one per zone). */
export const EGRESS_AZ_COUNT = 2;

/** How the functions reach WeChat: a NAT gateway (managed) or one NAT instance (cheaper). */
export type EgressKind = 'nat-gateway' | 'nat-instance';

/** The NAT instance's type when none is given: the smallest Graviton, far above the service's traffic. */
export const DEFAULT_NAT_INSTANCE_TYPE = 't4g.nano';

/** Properties of {@link EgressVpc}. */
export interface EgressVpcProps {
  /**
   * `nat-instance`: one EC2 instance (Amazon Linux 2023, iptables masquerade) in place of the NAT gateway,
   * on the same kind of retained Elastic IP, for about a tenth of the price. It recovers by itself from a
   * failure of its host (EC2 automatic recovery: same instance, same IP) and is rebooted when its own status
   * check fails; docs/deploy.md ("Egress") says what it does not survive.
   * @default 'nat-gateway'
   */
  readonly egress?: EgressKind;
  /**
   * The NAT instance's type (`egress: 'nat-instance'`); a Graviton type (`…g.…`) gets the ARM64 image.
   * @default DEFAULT_NAT_INSTANCE_TYPE
   */
  readonly natInstanceType?: string;
  /**
   * One NAT gateway per availability zone, each on its own Elastic IP, instead of one for both zones.
   * With one NAT, an outage of its zone cuts every function off from WeChat (tokens already stored are still
   * served); with one per zone, the functions in the other zone keep working. Each NAT adds its hourly
   * price and one more IP on WeChat's whitelist.
   * @default false
   */
  readonly natGatewayPerAz?: boolean;
  /**
   * Allocation ids of existing Elastic IPs (`eipalloc-…`), one per NAT gateway, to keep IPs that are already
   * on WeChat's IP whitelist when the stack is rebuilt.
   * @default - new Elastic IPs are created, kept when the stack is deleted or they leave it
   */
  readonly eipAllocationIds?: readonly string[];
  /**
   * Retention of the VPC flow log (all traffic), the record of what left through the egress IPs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly flowLogRetention?: logs.RetentionDays;
}

/**
 * The network every function runs in: private subnets in {@link EGRESS_AZ_COUNT} zones whose only way out is
 * a NAT gateway on an Elastic IP, so every call to api.weixin.qq.com comes from an address registered on the
 * platform's IP whitelist (第三方平台 → 开发资料 → 白名单; WeChat answers 61004 otherwise). By default one NAT
 * serves both zones (one IP to whitelist); `natGatewayPerAz` gives each zone its own.
 *
 * A created Elastic IP is retained when the stack is deleted (losing it means a new IP and a new whitelist
 * entry before the service works again), except when the deploy that created it fails: then it is released,
 * so a retried first deploy never meets a leftover. Functions get a shared security group that only allows
 * outbound HTTPS. DynamoDB traffic uses a free gateway endpoint instead of the NAT.
 */
export class EgressVpc extends Construct {
  readonly vpc: ec2.Vpc;
  /** Subnets for the functions: private, default route to their zone's (or the one) NAT gateway. */
  readonly functionSubnets: ec2.SubnetSelection = {
    subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
  };
  /** Security group for the functions: no inbound, outbound HTTPS only. */
  readonly functionSecurityGroup: ec2.SecurityGroup;
  /** The NAT gateways' Elastic IP allocation ids (tokens when the EIPs are created here). */
  readonly eipAllocationIds: readonly string[];
  /** The egress public IPs when the EIPs are created here; empty when they were imported. */
  readonly egressIps: readonly string[];
  /** The NAT gateways' ids, for their CloudWatch metrics (none with a NAT instance). */
  readonly natGatewayIds: readonly string[];
  /** The NAT instance's id, for its recovery alarms (none with NAT gateways). */
  readonly natInstanceIds: readonly string[];

  constructor(scope: Construct, id: string, props: EgressVpcProps = {}) {
    super(scope, id);
    const instance = props.egress === 'nat-instance';
    if (instance && props.natGatewayPerAz) {
      throw new Error('natGatewayPerAz applies to NAT gateways, not to the NAT instance');
    }
    const natGateways = props.natGatewayPerAz ? EGRESS_AZ_COUNT : 1;

    if (props.eipAllocationIds?.length) {
      if (props.eipAllocationIds.length !== natGateways) {
        throw new Error(`expected ${natGateways} Elastic IP allocation ids, one per NAT gateway`);
      }
      this.eipAllocationIds = [...props.eipAllocationIds];
      this.egressIps = [];
    } else {
      const eips = Array.from({ length: natGateways }, (_, i) => {
        // The first keeps the id it always had, so adding zones never replaces the IP on the whitelist.
        const eip = new ec2.CfnEIP(this, i === 0 ? 'NatEip' : `NatEip${i + 1}`, { domain: 'vpc' });
        eip.applyRemovalPolicy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
        Tags.of(eip).add('Name', `wechat-token-service-egress-${i + 1}`);
        return eip;
      });
      this.eipAllocationIds = eips.map((eip) => eip.attrAllocationId);
      // Ref of AWS::EC2::EIP is its public IP.
      this.egressIps = eips.map((eip) => eip.ref);
    }

    const natProvider = instance
      ? ec2.NatProvider.instanceV2({
          instanceType: new ec2.InstanceType(props.natInstanceType ?? DEFAULT_NAT_INSTANCE_TYPE),
          // Resolved from AWS's public SSM parameter at deploy time: no lookup, synth stays offline.
          machineImage: ec2.MachineImage.latestAmazonLinux2023({
            cpuType: isGraviton(props.natInstanceType ?? DEFAULT_NAT_INSTANCE_TYPE)
              ? ec2.AmazonLinuxCpuType.ARM_64
              : ec2.AmazonLinuxCpuType.X86_64,
          }),
          // A public IP from launch, so the boot script can install iptables before the Elastic IP
          // association below replaces it.
          associatePublicIpAddress: true,
          defaultAllowedTraffic: ec2.NatTrafficDirection.OUTBOUND_ONLY,
        })
      : ec2.NatProvider.gateway({ eipAllocationIds: [...this.eipAllocationIds] });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: EGRESS_AZ_COUNT,
      natGateways,
      natGatewayProvider: natProvider,
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
    if (natProvider instanceof ec2.NatInstanceProviderV2) {
      const [nat] = natProvider.gatewayInstances;
      if (!nat) throw new Error('the NAT instance provider made no instance');
      new ec2.CfnEIPAssociation(this, 'NatEipAssociation', {
        allocationId: this.eipAllocationIds[0],
        instanceId: nat.instanceId,
      });
      nat.instance.blockDeviceMappings = [
        {
          deviceName: '/dev/xvda',
          ebs: { encrypted: true, volumeType: 'gp3', deleteOnTermination: true },
        },
      ];
      Validations.of(nat).acknowledge(
        {
          id: 'AwsSolutions-EC28',
          reason:
            'The status checks that drive its recovery are 1-minute metrics without detailed monitoring; ' +
            'the other metrics are not watched.',
        },
        {
          id: 'AwsSolutions-EC29',
          reason:
            'Termination protection would stop CloudFormation from replacing the instance (a new type, a ' +
            'new image) and `cdk destroy`; the Elastic IP on the whitelist is what must survive, and it is retained.',
        }
      );
      this.natInstanceIds = [nat.instanceId];
      this.natGatewayIds = [];
    } else {
      this.natGatewayIds = natProvider.configuredGateways.map((gateway) => gateway.gatewayId);
      this.natInstanceIds = [];
    }

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
    if (natProvider instanceof ec2.NatInstanceProviderV2) {
      natProvider.connections.allowFrom(
        this.functionSecurityGroup,
        ec2.Port.tcp(443),
        'HTTPS from the functions, to WeChat'
      );
    }
  }
}

/** Graviton instance families carry a `g` after their generation (t4g, c7g, m6gd). */
function isGraviton(instanceType: string): boolean {
  return /^[a-z]+\d+g[a-z]*\./.test(instanceType);
}
