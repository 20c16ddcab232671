metadata description = 'Azure AI Search roles: readers query the index (the apps), writers create it and upload chunks (the ingest job, the deployer); deployed in the service\'s resource group, so it works for an existing service too.'

param serviceName string

@description('Objects { principalId, principalType } that only query the index: Search Index Data Reader.')
param readers array = []

@description('Objects { principalId, principalType } that run ingest: Search Service Contributor (create the index) and Search Index Data Contributor (upload and delete documents).')
param writers array = []

resource search 'Microsoft.Search/searchServices@2023-11-01' existing = {
  name: serviceName
}

var indexDataReaderRoleId = '1407120a-92aa-4202-b7e9-c0e197c71c8f' // Search Index Data Reader
var indexDataContributorRoleId = '8ebe5a00-799e-43f5-93ac-243d3dce84a7' // Search Index Data Contributor
var serviceContributorRoleId = '7ca78c08-252a-4471-8644-bb5ff32d4ba0' // Search Service Contributor

resource indexDataReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principal in readers: {
  name: guid(search.id, principal.principalId, indexDataReaderRoleId)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', indexDataReaderRoleId)
    principalId: principal.principalId
    principalType: principal.principalType
  }
}]

resource indexDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principal in writers: {
  name: guid(search.id, principal.principalId, indexDataContributorRoleId)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', indexDataContributorRoleId)
    principalId: principal.principalId
    principalType: principal.principalType
  }
}]

resource serviceContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principal in writers: {
  name: guid(search.id, principal.principalId, serviceContributorRoleId)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceContributorRoleId)
    principalId: principal.principalId
    principalType: principal.principalType
  }
}]
