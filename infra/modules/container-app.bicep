metadata description = 'One container app of the assistant (the API or the UI): external HTTPS ingress, a user-assigned identity for the registry and Key Vault, secrets only as Key Vault references.'

param name string
param location string
param tags object
param environmentId string

@description('Resource ID of the user-assigned identity: pulls the image, reads the Key Vault secrets, and signs the app in to Azure (with AZURE_CLIENT_ID in env).')
param identityId string

@description('Login server of the container registry, e.g. crxxxx.azurecr.io.')
param registryServer string

@description('Image to run. Empty = a public placeholder until `azd deploy` pushes the app\'s image (azd then keeps the rest of this configuration).')
param image string = ''

@description('Overrides the image\'s command (empty = the image\'s own: the API).')
param command array = []

param targetPort int

@description('Plain environment variables: name -> value. No secrets here.')
param env object = {}

@description('Environment variables read from secrets: name -> secret name (a key of keyVaultSecrets).')
param secretEnv object = {}

@description('The app\'s secrets, each a Key Vault reference read with the identity: secret name -> secret URI.')
param keyVaultSecrets object = {}

@description('Secrets mounted as files under secretFilesPath: file name -> secret name (a key of keyVaultSecrets).')
param secretFiles object = {}

param secretFilesPath string = '/mnt/secrets'

@description('Startup, liveness and readiness probes.')
param probes array = []

@description('vCPUs per replica, as a string (e.g. \'0.5\', \'1.0\'); memory must be twice as many GiB on Consumption.')
param cpu string = '1.0'
param memory string = '2Gi'

@minValue(0)
param minReplicas int = 1

@minValue(1)
param maxReplicas int = 3

@description('Concurrent HTTP requests per replica before another replica is added.')
@minValue(1)
param concurrentRequests int = 10

@description('Route a browser to the same replica throughout its session (Streamlit keeps session state in the replica).')
param stickySessions bool = false

var placeholderImage = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

var plainEnv = [for item in items(env): {
  name: item.key
  value: string(item.value)
}]

var secretRefEnv = [for item in items(secretEnv): {
  name: item.key
  secretRef: item.value
}]

var secrets = [for item in items(keyVaultSecrets): {
  name: item.key
  keyVaultUrl: item.value
  identity: identityId
}]

var secretVolumeItems = [for item in items(secretFiles): {
  secretRef: item.value
  path: item.key
}]

var volumes = empty(secretFiles) ? [] : [
  {
    name: 'secret-files'
    storageType: 'Secret'
    secrets: secretVolumeItems
  }
]

var volumeMounts = empty(secretFiles) ? [] : [
  {
    volumeName: 'secret-files'
    mountPath: secretFilesPath
  }
]

resource app 'Microsoft.App/containerApps@2024-03-01' = {
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
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: targetPort
        transport: 'auto'
        allowInsecure: false // HTTP is redirected to HTTPS
        stickySessions: {
          affinity: stickySessions ? 'sticky' : 'none'
        }
      }
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: secrets
    }
    template: {
      containers: [
        {
          name: 'main'
          image: empty(image) ? placeholderImage : image
          command: empty(command) ? null : command
          env: concat(plainEnv, secretRefEnv)
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          probes: probes
          volumeMounts: volumeMounts
        }
      ]
      volumes: volumes
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-requests'
            http: {
              metadata: {
                concurrentRequests: string(concurrentRequests)
              }
            }
          }
        ]
      }
    }
  }
}

output name string = app.name
output fqdn string = app.properties.configuration.ingress.fqdn
output uri string = 'https://${app.properties.configuration.ingress.fqdn}'
