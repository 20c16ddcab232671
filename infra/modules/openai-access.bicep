metadata description = 'Lets principals call an Azure OpenAI account with Microsoft Entra ID (Cognitive Services OpenAI User); deployed in the account\'s resource group, so it works for an existing account too.'

param accountName string

@description('Objects { principalId, principalType } given the role.')
param principals array

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: accountName
}

var openAiUserRoleId = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd' // Cognitive Services OpenAI User

resource openAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principal in principals: {
  name: guid(account.id, principal.principalId, openAiUserRoleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAiUserRoleId)
    principalId: principal.principalId
    principalType: principal.principalType
  }
}]
