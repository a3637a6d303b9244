// The fleet: every Node.js service that follows the house conventions, one line each.
// obsgen evaluates this file into one spec per service; `env` comes from obsgen.yaml
// (jsonnet.extVars) or the command line (--ext-str env=staging).
local service = import 'lib/nodejs-service.libsonnet';

[
  service.new('grading-worker', team='assessments', namespace='exam',
              description='Consumes the grading queue and scores submissions.', memoryLimit='1Gi'),
  service.new('notification-api', team='engagement', namespace='messaging',
              description='Sends e-mail and push notifications.', lagThreshold='100ms'),
  service.new('report-api', team='engagement', namespace='reporting',
              description='Builds PDF reports of exam results.', lagThreshold='500ms'),
]
