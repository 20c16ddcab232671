metadata description = 'Azure Container Registry for the app image (azd builds and pushes it); the apps pull it with their identities.'

param name string
param location string
param tags object

@description('Principal IDs of managed identities that pull the image (AcrPull).')
param pullPrincipalIds array = []

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false // no registry password: pulls use managed identities, pushes the deployer's sign-in
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d' // AcrPull

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in pullPrincipalIds: {
  name: guid(registry.id, principalId, acrPullRoleId)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

output name string = registry.name
output loginServer string = registry.properties.loginServer
