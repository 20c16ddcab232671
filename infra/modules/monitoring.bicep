metadata description = 'Log Analytics (container logs) and workspace-based Application Insights (the app\'s OpenTelemetry traces and metrics, docs/operations.md).'

param location string
param tags object
param logAnalyticsName string
param applicationInsightsName string

@description('Days the workspace keeps logs and telemetry (30 is included in the price; more is billed per GB per month).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
  }
}

output logAnalyticsName string = logAnalytics.name
output applicationInsightsName string = applicationInsights.name
// Read by main.bicep only to store it in Key Vault; the apps get it as a Key Vault reference.
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
