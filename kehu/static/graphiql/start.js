// Starts GraphiQL against this server. Paste a token printed by `make run` (or `kehu token`)
// into the Headers tab; GraphiQL keeps it in this browser's local storage.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + "/graphql" });
  var defaultHeaders = JSON.stringify(
    { Authorization: "Bearer <paste a token from `make run`>", "X-Purpose": "CUSTOMER_SERVICE" },
    null,
    2
  );
  var defaultQuery = [
    "# Kehu 客户 — customer management API.",
    "# 1. Open the Headers tab below and paste a token printed by `make run`;",
    "#    X-Purpose declares why you read personal data (README, Security).",
    "# 2. Run this query (Ctrl-Enter).",
    "query FirstCustomers {",
    "  me { name roles branch { name } }",
    "  customers(first: 5, orderBy: [{ field: CREATED_AT, direction: DESC }]) {",
    "    totalCount",
    "    edges { node { id name phone branch { name } latestFinancialSnapshot { assetsUnderManagement } } }",
    "  }",
    "}",
    ""
  ].join("\n");
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultHeaders: defaultHeaders,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: "headers"
    })
  );
})();
