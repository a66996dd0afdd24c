// The lab's names the dashboards filter on, taken from the code (see docs/dashboards.md for where each
// comes from). OBI's service_name = the Deployment name.

/** Gateway routes served from the cache (crates/gateway/src/http: reads::list, batch, get_one, search). */
export const GATEWAY_CACHED_ROUTES = "/products|/products/batch|/products/\\\\{id\\\\}|/search";

/** The N+1 route of orders (crates/orders/src/http/customers.rs, `?include=items&strategy=n-plus-one`). */
export const ORDERS_N_PLUS_ONE_ROUTE = "/customers/{id}/orders";

/** The DLQ topic (crates/events/src/kafka.rs Topics::dlq, no prefix in the lab). */
export const DLQ_TOPIC = "dlq";

/** auth's streaming RPC (proto/mop/auth/v1/auth.proto), as OBI names it. */
export const STREAM_METHOD = "/mop.auth.v1.AuthService/StreamEvents";

/** Selector of OBI's application series in the chosen namespace and services. */
export const app = (extra = "") => `k8s_namespace_name="$namespace", service_name=~"$service"${extra ? ", " + extra : ""}`;

/**
 * gRPC codes OBI v0.14 marks as an error on a *server* span (pkg/appolly/app/request: GrpcSpanStatusCode;
 * the OTel semantic conventions): UNAUTHENTICATED, RESOURCE_EXHAUSTED, NOT_FOUND… are the caller's
 * problem and leave a server span unset. The dashboards' server error ratios use the same list, so a
 * wrong password (about a fifth of `mixed`'s logins, by design) is not an error of auth.
 */
export const GRPC_SERVER_ERROR_CODES = "UNKNOWN|DEADLINE_EXCEEDED|UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS";
