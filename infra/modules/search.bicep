metadata description = 'Azure AI Search service for the guidance index (WAF_INDEX_BACKEND=azure-search, docs/azure-ai-search.md); keys are disabled, callers use Microsoft Entra ID roles.'

param name string
param location string
param tags object

@description('free: one per subscription, 50 MB, no SLA and no semantic ranker, for a trial.')
@allowed([
  'free'
  'basic'
  'standard'
  'standard2'
  'standard3'
])
param sku string = 'basic'

@description('Two replicas give the read SLA, three the read-write SLA (billed per replica).')
@minValue(1)
@maxValue(12)
param replicaCount int = 1

@minValue(1)
@maxValue(12)
param partitionCount int = 1

@description('The semantic ranker plan: set WAF_AZURE_SEARCH_SEMANTIC_CONFIG too for the app to use it.')
@allowed([
  'disabled'
  'free'
  'standard'
])
param semanticRanker string = 'disabled'

resource search 'Microsoft.Search/searchServices@2023-11-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    replicaCount: replicaCount
    partitionCount: partitionCount
    hostingMode: 'default'
    publicNetworkAccess: 'enabled'
    disableLocalAuth: true // no admin or query keys: Search Index Data Reader / Contributor roles
    semanticSearch: semanticRanker
  }
}

output name string = search.name
output endpoint string = 'https://${search.name}.search.windows.net'
