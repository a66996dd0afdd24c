#!/usr/bin/env python3
"""A generic gRPC client that knows nothing of MOP's code: it discovers `auth` by server reflection,
checks grpc.health.v1, then logs in, validates, refreshes, reads the event stream and logs out, building
every message from the descriptors the server sent. It is the test that grpcurl or any other tool can
do the same. Usage: grpc_generic_client.py HOST:PORT  (exit 0 on success, 1 with a reason otherwise)."""

import sys
import threading

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

SERVICE = "mop.auth.v1.AuthService"


def fail(reason):
    print(f"FAIL: {reason}")
    sys.exit(1)


def main(addr):
    channel = grpc.insecure_channel(addr)
    grpc.channel_ready_future(channel).result(timeout=10)

    # 1. Discover: the service list and the full schema come from the server, not from our .proto.
    db = ProtoReflectionDescriptorDatabase(channel)
    services = db.get_services()
    if SERVICE not in services:
        fail(f"{SERVICE} not listed by reflection: {services}")
    pool = descriptor_pool.DescriptorPool(db)
    service = pool.FindServiceByName(SERVICE)

    def rpc(name, request_fields, metadata=(), stream=False):
        method = service.methods_by_name[name]
        req_cls = message_factory.GetMessageClass(method.input_type)
        resp_cls = message_factory.GetMessageClass(method.output_type)
        path = f"/{SERVICE}/{name}"
        call = (channel.unary_stream if stream else channel.unary_unary)(
            path, request_serializer=req_cls.SerializeToString, response_deserializer=resp_cls.FromString)
        return call(req_cls(**request_fields), metadata=metadata, timeout=10)

    # 2. Health, as a Kubernetes gRPC probe asks it.
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE):
        status = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
        if status != health_pb2.HealthCheckResponse.SERVING:
            fail(f"health of {name!r} is {status}")

    # 3. The stream, opened as the admin; it must see the login below.
    admin = rpc("Login", {"username": "user-0001", "password": "pass-0001"})
    auth = (("authorization", f"Bearer {admin.tokens.access_token}"),)
    events = rpc("StreamEvents", {}, metadata=auth, stream=True)
    seen = []

    def read():
        try:
            for event in events:
                seen.append(event)
        except grpc.RpcError as e:
            # Our own cancel() below ends the stream; anything else is a real failure.
            if e.code() != grpc.StatusCode.CANCELLED:
                seen.append(e)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    # 4. The session life cycle.
    login = rpc("Login", {"username": "user-0002", "password": "pass-0002"})
    if login.user.name != "user-0002" or not login.tokens.refresh_token:
        fail(f"unexpected login answer: {login}")
    valid = rpc("ValidateToken", {"access_token": login.tokens.access_token})
    if valid.session_id != login.session_id:
        fail("ValidateToken returned another session")
    refreshed = rpc("RefreshToken", {"refresh_token": login.tokens.refresh_token})
    if refreshed.tokens.refresh_token == login.tokens.refresh_token:
        fail("refresh did not rotate the refresh token")
    bearer = (("authorization", f"Bearer {refreshed.tokens.access_token}"),)
    rpc("Logout", {}, metadata=bearer)
    try:
        rpc("ValidateToken", {"access_token": refreshed.tokens.access_token})
        fail("a token still validates after logout")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.UNAUTHENTICATED:
            fail(f"after logout: {e.code()}")

    reader.join(timeout=3)
    events.cancel()
    errors = [e for e in seen if isinstance(e, grpc.RpcError)]
    if errors:
        fail(f"the stream failed: {errors[0].code()}")
    if not any(e.username == "user-0002" for e in seen):
        fail(f"the stream did not carry user-0002's events: {seen}")
    print(f"ok: reflection, health, login, validate, refresh, logout and {len(seen)} streamed events")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051")
