// RDS DescribeDBInstances and DescribeDBClusters (awsQuery protocol).

import { AwsApiError } from '../errors.js';
import type { QueryHandler } from './index.js';
import { element, queryResponse } from './xml.js';

const RDS_NAMESPACE = 'http://rds.amazonaws.com/doc/2014-10-31/';

const describeDbInstances: QueryHandler = (params, ctx) => {
  const requestedId = params.DBInstanceIdentifier;
  const instances = ctx.state.scenario.dbInstances.filter(
    (instance) => requestedId === undefined || instance.id === requestedId,
  );
  if (requestedId !== undefined && instances.length === 0) {
    throw new AwsApiError('DBInstanceNotFound', `DBInstance ${requestedId} not found.`, 404);
  }
  const items = instances.map(
    (instance) =>
      '<DBInstance>' +
      element('DBInstanceIdentifier', instance.id) +
      element('DBInstanceStatus', 'available') +
      element('Engine', instance.engine) +
      '<Endpoint>' +
      element('Address', instance.endpoint.address) +
      element('Port', instance.endpoint.port) +
      '</Endpoint>' +
      '</DBInstance>',
  );
  return queryResponse(
    'DescribeDBInstances',
    RDS_NAMESPACE,
    `<DBInstances>${items.join('')}</DBInstances>`,
  );
};

/** Derives the reader endpoint the way Aurora names it: `.cluster-` becomes `.cluster-ro-`. */
function readerEndpoint(writerEndpoint: string): string {
  return writerEndpoint.replace('.cluster-', '.cluster-ro-');
}

const describeDbClusters: QueryHandler = (params, ctx) => {
  const requestedId = params.DBClusterIdentifier;
  const clusters = ctx.state.scenario.dbClusters.filter(
    (cluster) => requestedId === undefined || cluster.id === requestedId,
  );
  if (requestedId !== undefined && clusters.length === 0) {
    throw new AwsApiError('DBClusterNotFoundFault', `DBCluster ${requestedId} not found.`, 404);
  }
  const items = clusters.map(
    (cluster) =>
      '<DBCluster>' +
      element('DBClusterIdentifier', cluster.id) +
      element('Status', 'available') +
      element('Engine', cluster.engine) +
      element('Endpoint', cluster.endpoint) +
      element('ReaderEndpoint', readerEndpoint(cluster.endpoint)) +
      element('Port', cluster.port) +
      '</DBCluster>',
  );
  return queryResponse(
    'DescribeDBClusters',
    RDS_NAMESPACE,
    `<DBClusters>${items.join('')}</DBClusters>`,
  );
};

export const rdsHandlers: Record<string, QueryHandler> = {
  DescribeDBInstances: describeDbInstances,
  DescribeDBClusters: describeDbClusters,
};
