metadata description = 'Azure Database for PostgreSQL flexible server and the app\'s database (WAF_DATABASE_URL): conversations, saved reviews, feedback and the LLM usage log (docs/service.md).'

param name string
param location string
param tags object

param administratorLogin string

@secure()
param administratorLoginPassword string

param databaseName string

@description('PostgreSQL major version.')
param version string = '16'

@description('Compute size. Burstable B1ms (1 vCore, 2 GiB) suits a team; GeneralPurpose is needed for high availability.')
param skuName string = 'Standard_B1ms'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string = 'Burstable'

@minValue(32)
param storageSizeGB int = 32

@minValue(7)
@maxValue(35)
param backupRetentionDays int = 7

@description('Geo-redundant backups (can only be chosen when the server is created).')
param geoRedundantBackup bool = false

@description('Zone-redundant standby (not available on the Burstable tier).')
param highAvailability bool = false

@description('Let Azure services reach the server through its public endpoint (the apps have no fixed address without a virtual network).')
param allowAzureServices bool = true

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    authConfig: {
      // The app connects with a SQLAlchemy URL and a password (no Entra token refresh in the app).
      activeDirectoryAuth: 'Disabled'
      passwordAuth: 'Enabled'
    }
    storage: {
      storageSizeGB: storageSizeGB
    }
    backup: {
      backupRetentionDays: backupRetentionDays
      geoRedundantBackup: geoRedundantBackup ? 'Enabled' : 'Disabled'
    }
    highAvailability: {
      mode: highAvailability ? 'ZoneRedundant' : 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

// The special 0.0.0.0 rule: connections from Azure services only (any tenant's, so the password still matters).
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (allowAzureServices) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  // One change at a time: the server refuses concurrent operations.
  dependsOn: [
    allowAzure
  ]
}

output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
