metadata description = 'A user-assigned managed identity: the apps and the ingest job sign in to Azure with it, without any key.'

param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
// DefaultAzureCredential picks this identity when AZURE_CLIENT_ID holds its client ID.
output clientId string = identity.properties.clientId
