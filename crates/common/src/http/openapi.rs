//! The error responses the shared layers and extractors can produce on *every* API route, added to a
//! generated document so it stays truthful without repeating them on each handler.

use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Type,
    path::{Operation, Parameter, ParameterIn},
};

/// What [`add_layer_responses`] adds, and where it comes from.
struct LayerResponse {
    status: &'static str,
    description: &'static str,
    retry_after: bool,
    /// Where the shared extractors can produce it.
    on: Extractor,
}

#[derive(PartialEq, Eq)]
enum Extractor {
    /// Every operation (the layers).
    Any,
    /// Operations with a path or query parameter (`Path`/`Query`: a value that does not parse).
    Parameters,
    /// Operations with a request body (`Json`).
    Body,
}

const LAYER_RESPONSES: &[LayerResponse] = &[
    LayerResponse {
        status: "429",
        description: "Too many requests from this client: wait `Retry-After` seconds",
        retry_after: true,
        on: Extractor::Any,
    },
    LayerResponse {
        status: "503",
        description: "The request did not complete within the server's request timeout",
        retry_after: true,
        on: Extractor::Any,
    },
    LayerResponse {
        status: "400",
        description: "A path or query parameter does not parse (e.g. not a number)",
        retry_after: false,
        on: Extractor::Parameters,
    },
    LayerResponse {
        status: "400",
        description: "The body is not well-formed JSON",
        retry_after: false,
        on: Extractor::Body,
    },
    LayerResponse {
        status: "413",
        description: "The body is larger than the server's body limit",
        retry_after: false,
        on: Extractor::Body,
    },
    LayerResponse {
        status: "415",
        description: "The body's Content-Type is not application/json",
        retry_after: false,
        on: Extractor::Body,
    },
    LayerResponse {
        status: "422",
        description: "The body is JSON of the wrong shape",
        retry_after: false,
        on: Extractor::Body,
    },
];

/// Adds the layers' 429 (rate limit, with `Retry-After`) and 503 (request timeout) to every operation
/// whose path is not in `exempt` (the probes, which the rate limiter does not cover), the parameter
/// extractors' 400 to every operation with path or query parameters, and the body extractor's
/// 400/413/415/422 to every operation with a request body. A response the handler documents itself
/// is left as it is. The document must include the `Problem` schema.
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
        // Path parameters may be declared on the path item as well as on the operation.
        let item_params = item.parameters.as_ref().is_some_and(|p| has_parameters(p));
        for op in ops.into_iter().flatten() {
            let params = item_params || op.parameters.as_ref().is_some_and(|p| has_parameters(p));
            let body = op.request_body.is_some();
            for layer in LAYER_RESPONSES {
                let applies = match layer.on {
                    Extractor::Any => true,
                    Extractor::Parameters => params,
                    Extractor::Body => body,
                };
                if applies {
                    add(op, layer);
                }
            }
        }
    }
}

fn has_parameters(parameters: &[RefOr<Parameter>]) -> bool {
    parameters.iter().any(|p| {
        matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query))
    })
}

fn add(op: &mut Operation, layer: &LayerResponse) {
    if op.responses.responses.contains_key(layer.status) {
        return;
    }
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(layer.description)
        .content(super::problem::CONTENT_TYPE, content);
    if layer.retry_after {
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
        .insert(layer.status.to_owned(), RefOr::T(response.build()));
}
