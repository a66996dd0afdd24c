-- The orders service's schema: customers, their orders, and the orders' line items.
--
-- Money is numeric(12,2) (exact; never float). The service reads and writes it as integer cents,
-- converting in SQL, so no decimal type is needed on the Rust side.
-- Every CHECK repeats a rule the service validates first: the service gives the client a precise
-- 422, the database guarantees the rule even for writers that bypass the service (psql, seed).

CREATE TABLE customers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    email      text        NOT NULL UNIQUE
                           CHECK (char_length(email) BETWEEN 3 AND 320 AND email LIKE '_%@_%'),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The UNIQUE index above serves exact lookups; prefix searches (`email LIKE 'abc%'`) need an index in
-- pattern order whatever the database's collation. Substring searches (`LIKE '%abc%'`) can use
-- neither: that is the lab's slow-query scenario (see docs/orders.md).
CREATE INDEX customers_email_pattern_idx ON customers (email text_pattern_ops);

CREATE TABLE orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint        NOT NULL REFERENCES customers (id),
    status      text          NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    total       numeric(12,2) NOT NULL DEFAULT 0 CHECK (total >= 0),
    created_at  timestamptz   NOT NULL DEFAULT now(),
    updated_at  timestamptz   NOT NULL DEFAULT now(),
    CHECK (updated_at >= created_at)
);

-- A customer's orders, newest first (GET /customers/{id}/orders, ?customer_id= filters), and the
-- foreign key's own lookups when a customer row is checked.
CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at DESC, id DESC);
-- Date-range listing and the daily-revenue report.
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
-- ?status= filters; small and selective for the interesting states (pending, paid).
CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC);

CREATE TABLE order_items (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   bigint        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id bigint        NOT NULL CHECK (product_id > 0),
    quantity   integer       NOT NULL CHECK (quantity > 0),
    price      numeric(12,2) NOT NULL CHECK (price >= 0)
);

-- An order's items (the JOIN of GET /orders/{id}, the N+1 and batched item loads, ON DELETE CASCADE).
CREATE INDEX order_items_order_idx ON order_items (order_id);
