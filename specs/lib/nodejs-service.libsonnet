// A Node.js service on Kubernetes, as this organisation runs them: one container
// named `app`, pods named by their Deployment, alerts routed by team and environment.
// `new` returns an obsgen/v1 Service spec; override any field with `+`.
{
  new(name, team, namespace, description='', lagThreshold='200ms', memoryLimit=null)::
    local env = std.extVar('env');
    {
      apiVersion: 'obsgen/v1',
      kind: 'Service',
      metadata: {
        name: name,
        team: team,
        description: description,
      },
      spec: {
        namespace: namespace,
        runtime: 'nodejs',
        container: 'app',
        selector: { job: name },
        [if memoryLimit != null then 'resources']: { limits: { memory: memoryLimit } },
        dashboard: { tags: [env] },
        alerts: {
          runbookBaseUrl: 'https://runbooks.example.com/' + team,
          labels: { env: env },
          eventLoopLag: { threshold: lagThreshold },
        },
      },
    },
}
