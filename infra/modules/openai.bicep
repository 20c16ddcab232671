metadata description = 'Azure OpenAI account with one chat model deployment; keys are disabled, callers use Microsoft Entra ID (Cognitive Services OpenAI User).'

param name string
param location string
param tags object

param deploymentName string
param modelName string
param modelVersion string

@description('GlobalStandard routes to any region with capacity; Standard keeps processing in the account\'s region (data residency).')
@allowed([
  'GlobalStandard'
  'DataZoneStandard'
  'Standard'
])
param deploymentSku string = 'GlobalStandard'

@description('Capacity in thousands of tokens per minute.')
@minValue(1)
param deploymentCapacity int = 30

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name // required for Microsoft Entra ID tokens
    disableLocalAuth: true // no API keys
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}

resource chat 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: deploymentSku
    capacity: deploymentCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: modelName
      version: modelVersion
    }
    // Move to the next version when this one retires, rather than start failing.
    versionUpgradeOption: 'OnceCurrentVersionExpired'
  }
}

output name string = account.name
output endpoint string = account.properties.endpoint
output deploymentName string = chat.name
