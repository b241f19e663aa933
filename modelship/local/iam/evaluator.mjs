// Decides AWS requests with @cloud-copilot/iam-simulate, one JSON line in, one JSON line out.
//
// iam-simulate is AGPL-3.0-or-later: it runs only here, as a separate development-time
// process started by modelship.local.iam.evaluator; nothing imports it and no Lambda asset
// contains it. This script is modelship's own code (Apache-2.0).
//
// Request: {"id", "principal", "action", "resource", "accountId", "context",
//           "identityPolicies": [{"name", "policy"}], "resourcePolicy"?}
// Answer:  {"id", "result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "Error",
//           "decisive": [{"policyType", "policy", "sid", "index"}], "resourceType", "error"?}
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

function statements(analysis, policyType, which) {
  const found = analysis?.[which] ?? []
  return found.map((s) => ({
    policyType,
    policy: s.policyId,
    sid: s.statement.sid() ?? null,
    index: s.statement.index()
  }))
}

function decisive(analysis, result) {
  const which = result === 'Allowed' ? 'allowStatements' : 'denyStatements'
  return [
    ...statements(analysis?.identityAnalysis, 'identity', which),
    ...statements(analysis?.resourceAnalysis, 'resource', which)
  ]
}

async function decide(request) {
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.accountId },
      contextVariables: request.context ?? {}
    },
    identityPolicies: request.identityPolicies ?? [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy ?? undefined
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { result: 'Error', decisive: [], error: response.errors }
  }
  let single = response.result
  if (response.resultType === 'wildcard') {
    // A request on "*" (an action with no resource, or a list of every resource) is allowed
    // only by statements whose Resource covers "*", not by one naming some resources.
    single = response.results.find((r) => r.resourcePattern === '*')
    if (single === undefined) {
      return { result: 'ImplicitlyDenied', decisive: [], resourceType: null }
    }
  }
  const analysis = single.analysis
  return {
    result: analysis.result,
    decisive: decisive(analysis, analysis.result),
    resourceType: single.resourceType ?? null,
    ignoredContextKeys: single.ignoredContextKeys ?? []
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  let id = null
  let answer
  try {
    const request = JSON.parse(line)
    id = request.id ?? null
    answer = await decide(request)
  } catch (error) {
    answer = { result: 'Error', decisive: [], error: { message: String(error?.stack ?? error) } }
  }
  process.stdout.write(JSON.stringify({ id, ...answer }) + '\n')
}
