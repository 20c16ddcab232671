metadata description = 'Container Apps job that runs `waf-assistant ingest` into Azure AI Search with an identity of its own (the only one allowed to write the index); started after each deploy by infra/hooks/postdeploy.py.'

param name string
param location string
param tags object
param environmentId string

@description('Resource ID of the ingest identity: pulls the image and writes the index.')
param identityId string

param registryServer string

@description('Image to run. Empty = a public placeholder; the deploy hook starts each run with the image azd just pushed.')
param image string = ''

@description('Plain environment variables: name -> value. No secrets here.')
param env object = {}

@description('Embedding the corpus is CPU-bound: more vCPUs, a shorter run.')
param cpu string = '2.0'
param memory string = '4Gi'

@description('Longest run, in seconds.')
param timeoutSeconds int = 3600

var placeholderImage = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

var plainEnv = [for item in items(env): {
  name: item.key
  value: string(item.value)
}]

resource job 'Microsoft.App/jobs@2024-03-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      triggerType: 'Manual'
      manualTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
      }
      replicaTimeout: timeoutSeconds
      replicaRetryLimit: 1 // ingest is incremental: a retry resumes where the failed run stopped
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'ingest'
          image: empty(image) ? placeholderImage : image
          command: [
            'waf-assistant'
            'ingest'
          ]
          env: plainEnv
          resources: {
            cpu: json(cpu)
            memory: memory
          }
        }
      ]
    }
  }
}

output name string = job.name
