// ElastiCache DescribeCacheClusters (awsQuery protocol).

import { AwsApiError } from '../errors.js';
import type { QueryHandler } from './index.js';
import { element, queryResponse } from './xml.js';

const ELASTICACHE_NAMESPACE = 'http://elasticache.amazonaws.com/doc/2015-02-02/';

/**
 * Lists clusters with one node each; node endpoints appear only with `ShowCacheNodeInfo`,
 * as in the service. Memcached clusters also get a configuration endpoint.
 */
const describeCacheClusters: QueryHandler = (params, ctx) => {
  const requestedId = params.CacheClusterId;
  const clusters = ctx.state.scenario.cacheClusters.filter(
    (cluster) => requestedId === undefined || cluster.id === requestedId,
  );
  if (requestedId !== undefined && clusters.length === 0) {
    throw new AwsApiError('CacheClusterNotFound', `CacheCluster ${requestedId} not found.`, 404);
  }
  const showNodes = params.ShowCacheNodeInfo === 'true';
  const items = clusters.map((cluster) => {
    const endpoint = element('Address', cluster.address) + element('Port', cluster.port);
    const configuration =
      cluster.engine === 'memcached'
        ? `<ConfigurationEndpoint>${endpoint}</ConfigurationEndpoint>`
        : '';
    const nodes = showNodes
      ? '<CacheNodes><CacheNode>' +
        element('CacheNodeId', '0001') +
        element('CacheNodeStatus', 'available') +
        `<Endpoint>${endpoint}</Endpoint>` +
        '</CacheNode></CacheNodes>'
      : '';
    return (
      '<CacheCluster>' +
      element('CacheClusterId', cluster.id) +
      element('CacheClusterStatus', 'available') +
      element('Engine', cluster.engine) +
      configuration +
      nodes +
      '</CacheCluster>'
    );
  });
  return queryResponse(
    'DescribeCacheClusters',
    ELASTICACHE_NAMESPACE,
    `<CacheClusters>${items.join('')}</CacheClusters>`,
  );
};

export const elasticacheHandlers: Record<string, QueryHandler> = {
  DescribeCacheClusters: describeCacheClusters,
};
