// EC2 DescribeInstances, DescribeVpcEndpoints and DescribeRouteTables (ec2Query protocol).

import { createHash } from 'node:crypto';
import type { ScenarioInstance, ScenarioVpc } from '../scenario.js';
import type { HandlerContext, QueryHandler } from './index.js';
import { ec2Filters, ec2Response, element, listParam } from './xml.js';

/** Derives a stable resource id such as `vpce-…` from `seed`, so repeated calls agree. */
function derivedId(prefix: string, seed: string): string {
  return `${prefix}-${createHash('sha256').update(seed).digest('hex').slice(0, 17)}`;
}

function matchesInstanceFilters(
  instance: ScenarioInstance,
  filters: Map<string, string[]>,
): boolean {
  for (const [name, values] of filters) {
    let actual: string[];
    if (name.startsWith('tag:')) {
      const value = instance.tags[name.slice(4)];
      actual = value === undefined ? [] : [value];
    } else if (name === 'tag-key') {
      actual = Object.keys(instance.tags);
    } else if (name === 'instance-id') {
      actual = [instance.instanceId];
    } else if (name === 'vpc-id') {
      actual = instance.vpcId ? [instance.vpcId] : [];
    } else if (name === 'instance-state-name') {
      actual = ['running'];
    } else {
      return false;
    }
    if (!actual.some((value) => values.includes(value))) {
      return false;
    }
  }
  return true;
}

function instanceXml(instance: ScenarioInstance): string {
  const tags = Object.entries(instance.tags)
    .map(([key, value]) => `<item>${element('key', key)}${element('value', value)}</item>`)
    .join('');
  return (
    '<item>' +
    element('instanceId', instance.instanceId) +
    '<instanceState><code>16</code><name>running</name></instanceState>' +
    element('privateIpAddress', instance.privateIpAddress ?? instance.ipAddress) +
    element('ipAddress', instance.publicIp) +
    element('vpcId', instance.vpcId) +
    element('subnetId', instance.subnetId) +
    `<tagSet>${tags}</tagSet>` +
    '</item>'
  );
}

const describeInstances: QueryHandler = (params, ctx) => {
  const ids = listParam(params, 'InstanceId');
  const filters = ec2Filters(params);
  const reservations = ctx.state.scenario.instances
    .filter((instance) => ids.length === 0 || ids.includes(instance.instanceId))
    .filter((instance) => matchesInstanceFilters(instance, filters))
    .map(
      (instance) =>
        '<item>' +
        element('reservationId', derivedId('r', instance.instanceId)) +
        element('ownerId', '123456789012') +
        `<instancesSet>${instanceXml(instance)}</instancesSet>` +
        '</item>',
    );
  return ec2Response(
    'DescribeInstances',
    `<reservationSet>${reservations.join('')}</reservationSet>`,
  );
};

function vpcsMatching(ctx: HandlerContext, filters: Map<string, string[]>): ScenarioVpc[] {
  const vpcIds = filters.get('vpc-id');
  return ctx.state.scenario.vpcs.filter((vpc) => !vpcIds || vpcIds.includes(vpc.vpcId));
}

const describeVpcEndpoints: QueryHandler = (params, ctx) => {
  const filters = ec2Filters(params);
  const serviceNames = filters.get('service-name');
  const items = vpcsMatching(ctx, filters).flatMap((vpc) =>
    vpc.endpoints
      .filter((serviceName) => !serviceNames || serviceNames.includes(serviceName))
      .map(
        (serviceName) =>
          '<item>' +
          element('vpcEndpointId', derivedId('vpce', `${vpc.vpcId}/${serviceName}`)) +
          element('vpcEndpointType', 'Interface') +
          element('vpcId', vpc.vpcId) +
          element('serviceName', serviceName) +
          element('state', 'available') +
          element('privateDnsEnabled', true) +
          '</item>',
      ),
  );
  return ec2Response('DescribeVpcEndpoints', `<vpcEndpointSet>${items.join('')}</vpcEndpointSet>`);
};

/**
 * Returns each VPC's main route table only: a local route for the VPC CIDR, plus a default
 * route to a NAT gateway when the scenario VPC has `natGateway`. Subnet associations are not
 * modelled, so an `association.subnet-id` filter matches nothing.
 */
const describeRouteTables: QueryHandler = (params, ctx) => {
  const filters = ec2Filters(params);
  if (filters.has('association.subnet-id')) {
    return ec2Response('DescribeRouteTables', '<routeTableSet></routeTableSet>');
  }
  const tables = vpcsMatching(ctx, filters).map((vpc) => {
    const tableId = derivedId('rtb', vpc.vpcId);
    let routes =
      '<item>' +
      element('destinationCidrBlock', vpc.cidr) +
      element('gatewayId', 'local') +
      element('state', 'active') +
      '</item>';
    if (vpc.natGateway) {
      routes +=
        '<item>' +
        element('destinationCidrBlock', '0.0.0.0/0') +
        element('natGatewayId', derivedId('nat', vpc.vpcId)) +
        element('state', 'active') +
        '</item>';
    }
    return (
      '<item>' +
      element('routeTableId', tableId) +
      element('vpcId', vpc.vpcId) +
      `<routeSet>${routes}</routeSet>` +
      '<associationSet><item>' +
      element('routeTableAssociationId', derivedId('rtbassoc', vpc.vpcId)) +
      element('routeTableId', tableId) +
      element('main', true) +
      '</item></associationSet>' +
      '</item>'
    );
  });
  return ec2Response('DescribeRouteTables', `<routeTableSet>${tables.join('')}</routeTableSet>`);
};

export const ec2Handlers: Record<string, QueryHandler> = {
  DescribeInstances: describeInstances,
  DescribeVpcEndpoints: describeVpcEndpoints,
  DescribeRouteTables: describeRouteTables,
};
