// The workbench's only way to the data: POST /graphql with the token, the purpose and the scope.
// Every request names its operation, so the audit log and /metrics show what the page did.

export class ApiError extends Error {
  constructor(code, message, requestId = null) {
    super(message);
    this.code = code;
    this.requestId = requestId;
  }
}

export class Api {
  constructor(endpoint, session) {
    this.endpoint = endpoint;
    this.session = session;
    this.onUnauthenticated = () => {};
  }

  // The data of one operation; ApiError on any error (the first one, with its code).
  async request(document, variables = {}, { purpose = true } = {}) {
    const token = this.session.token;
    if (!token) throw new ApiError("UNAUTHENTICATED", "Paste a token to sign in.");
    const headers = { "Content-Type": "application/json", Authorization: `Bearer ${token}` };
    if (purpose) {
      const stated = this.session.purpose;
      if (!stated) {
        throw new ApiError("PURPOSE_REQUIRED",
          "State the purpose of this query (case number or reason) in the Purpose field first.");
      }
      headers["X-Purpose"] = stated;
    } else if (this.session.purpose) {
      headers["X-Purpose"] = this.session.purpose;
    }
    const operationName = operationNameOf(document);
    let response;
    try {
      response = await fetch(this.endpoint, {
        method: "POST", headers, credentials: "omit",
        body: JSON.stringify({ query: document, variables, operationName }),
      });
    } catch (err) {
      throw new ApiError("UNAVAILABLE", `The service cannot be reached (${err.message}).`);
    }
    const requestId = response.headers.get("x-request-id");
    let body;
    try {
      body = await response.json();
    } catch {
      throw new ApiError("INTERNAL", `HTTP ${response.status} without a GraphQL answer.`, requestId);
    }
    const error = body.errors && body.errors[0];
    if (error) {
      const code = (error.extensions && error.extensions.code) || `HTTP_${response.status}`;
      const failure = new ApiError(code, error.message, requestId);
      if (code === "UNAUTHENTICATED") this.onUnauthenticated(failure);
      throw failure;
    }
    return body.data;
  }
}

export function operationNameOf(document) {
  const match = /^\s*(?:#[^\n]*\n\s*)*(?:query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)/m.exec(document);
  return match ? match[1] : null;
}

const ENTITY = `kind key label regions`;
const REL = `type from { kind key } to { kind key } properties`;

export const Q = {
  viewer: `query WorkbenchViewer { viewer { user role regions
    jointOperations { id name regions validUntil } } }`,
  search: `query WorkbenchSearch($text: String!, $kinds: [EntityKind!], $scope: ScopeInput) {
    search(text: $text, kinds: $kinds, limit: 30, scope: $scope) { ${ENTITY} } }`,
  card: `query WorkbenchCard($ref: EntityRef!, $scope: ScopeInput) {
    entity(ref: $ref, scope: $scope) { ${ENTITY} properties
      ... on Person { name phones { key } vehicles { key } addresses { key } cases { key } }
      ... on Phone { users { key } cases { key } }
      ... on Vehicle { owners { key } }
      ... on Case { caseType reportedAt summary people { key } phones { key } addresses { key } }
      ... on Parcel { carrier shippedAt deliveredAt senders { key } receivers { key } }
      ... on Sensor { lat lon }
      ... on Address { residents { key } cases { key } } } }`,
  neighborhood: `query WorkbenchExpand($ref: EntityRef!, $relTypes: [RelType!], $limit: Int!,
      $scope: ScopeInput) {
    neighborhood(ref: $ref, hops: 1, relTypes: $relTypes, limit: $limit, scope: $scope) {
      nodes { ${ENTITY} } rels { ${REL} } truncated } }`,
  paths: `query WorkbenchPaths($from: EntityRef!, $to: EntityRef!, $scope: ScopeInput) {
    relationshipPaths(from: $from, to: $to, maxHops: 6, limit: 3, scope: $scope) {
      length nodes { ${ENTITY} } rels { ${REL} } } }`,
  timePaths: `query WorkbenchTimePaths($from: EntityRef!, $to: EntityRef!, $scope: ScopeInput) {
    timePaths(from: $from, to: $to, maxHops: 4, limit: 3, scope: $scope) {
      length arrival nodes { ${ENTITY} } hops { type at from { kind key } to { kind key } } } }`,
  ends: `query WorkbenchEnds($ref: EntityRef!, $scope: ScopeInput) {
    entity(ref: $ref, scope: $scope) { kind key
      ... on Person { phones { ${ENTITY} } vehicles { ${ENTITY} } } } }`,
  gangs: `query WorkbenchGangs($scope: ScopeInput) {
    gangs(scope: $scope) { id size cohesion regions links { type count }
      members { rank score person { ${ENTITY} } } } }`,
  coTravel: `query WorkbenchCoTravel($subject: EntityRef, $scope: ScopeInput) {
    coTravel(subject: $subject, limit: 50, scope: $scope) {
      a { ${ENTITY} } b { ${ENTITY} } meetings distinctSensors firstAt lastAt } }`,
  coTravelGroups: `query WorkbenchCoTravelGroups($scope: ScopeInput) {
    coTravelGroups(scope: $scope) { size meetings distinctSensors firstAt lastAt
      members { ${ENTITY} } } }`,
  evidence: `query WorkbenchMeetings($subject: EntityRef!, $scope: ScopeInput) {
    coTravel(subject: $subject, limit: 200, scope: $scope) { b { kind key }
      evidence(limit: 200) { aAt bAt sensor { key label lat lon regions } } } }`,
  timeline: `query WorkbenchTimeline($ref: EntityRef!, $scope: ScopeInput) {
    timeline(ref: $ref, limit: 500, scope: $scope) { at type summary regions details
      entities { kind key } } }`,
  savedQueries: `query WorkbenchSavedQueries { savedQueries { name description document variables } }`,
  runSaved: `query WorkbenchRunSaved($name: String!, $variables: JSON) {
    runSavedQuery(name: $name, variables: $variables) }`,
  workspaces: `query WorkbenchWorkspaces($scope: ScopeInput) {
    workspaces(scope: $scope) { id name regions nodes createdBy createdAt updatedBy updatedAt } }`,
  workspace: `query WorkbenchWorkspace($id: ID!, $scope: ScopeInput) {
    workspace(id: $id, scope: $scope) { id name regions chart createdBy createdAt updatedBy updatedAt } }`,
  saveWorkspace: `mutation WorkbenchSaveWorkspace($name: String!, $chart: JSON!, $scope: ScopeInput) {
    saveWorkspace(name: $name, chart: $chart, scope: $scope) { id name nodes updatedBy updatedAt } }`,
  deleteWorkspace: `mutation WorkbenchDeleteWorkspace($id: ID!, $scope: ScopeInput) {
    deleteWorkspace(id: $id, scope: $scope) { id name } }`,
};
