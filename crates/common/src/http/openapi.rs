//! OpenAPI helpers: the error responses the shared layers can produce on *every* API route, added to a
//! generated document so it stays truthful without repeating them on each handler.

use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Type,
    path::Operation,
};

/// Adds 429 (rate limit, with `Retry-After`) and 503 (request timeout) to every operation whose path
/// is not in `exempt` (the probes, which the rate limiter does not cover).
/// The document must include the `Problem` schema (reference it from any handler's responses).
pub fn add_layer_responses(doc: &mut OpenApi, exempt: &[&str]) {
    for (path, item) in &mut doc.paths.paths {
        if exempt.contains(&path.as_str()) {
            continue;
        }
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            add(
                op,
                "429",
                "Too many requests from this client: wait `Retry-After` seconds",
                true,
            );
            add(
                op,
                "503",
                "The request did not complete within the server's request timeout",
                true,
            );
        }
    }
}

fn add(op: &mut Operation, status: &str, description: &str, retry_after: bool) {
    if op.responses.responses.contains_key(status) {
        return;
    }
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(super::problem::CONTENT_TYPE, content);
    if retry_after {
        let header = HeaderBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            ))
            .description(Some("Seconds to wait before retrying"))
            .build();
        response = response.header("Retry-After", header);
    }
    op.responses
        .responses
        .insert(status.to_owned(), RefOr::T(response.build()));
}
