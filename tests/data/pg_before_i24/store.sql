--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: hl_fixture_before_i24; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA hl_fixture_before_i24;


--
-- Name: stored_event_uuid; Type: TYPE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TYPE hl_fixture_before_i24.stored_event_uuid AS (
	originator_id uuid,
	originator_version bigint,
	topic text,
	state bytea
);


--
-- Name: es_insert_events_uuid(hl_fixture_before_i24.stored_event_uuid[]); Type: FUNCTION; Schema: hl_fixture_before_i24; Owner: -
--

CREATE FUNCTION hl_fixture_before_i24.es_insert_events_uuid(events hl_fixture_before_i24.stored_event_uuid[]) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $$BEGIN    SET LOCAL lock_timeout = '30s';    NOTIFY "ledger_events";    RETURN QUERY    INSERT INTO "hl_fixture_before_i24"."ledger_events" AS t (    originator_id, originator_version, topic, state)    SELECT originator_id, originator_version, topic, state    FROM unnest(events)    RETURNING notification_id;END;$$;


--
-- Name: hl_refuse_log_change(); Type: FUNCTION; Schema: hl_fixture_before_i24; Owner: -
--

CREATE FUNCTION hl_fixture_before_i24.hl_refuse_log_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'handoff-ledger: the log is append-only: % refused on %', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: hl_agent_handoffs; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_agent_handoffs (
    handoff_id text NOT NULL,
    receiver text,
    kind text,
    acked_us bigint,
    completed_us bigint,
    excluded bigint,
    made bigint,
    open_eta bigint,
    open_update bigint
);


--
-- Name: hl_agent_open; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_agent_open (
    handoff_id text NOT NULL,
    receiver text,
    created_us bigint,
    ack_due_us bigint,
    acked bigint
);


--
-- Name: hl_agent_promises; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_agent_promises (
    handoff_id text NOT NULL,
    seq bigint NOT NULL,
    agent text,
    kind text,
    promise text,
    made_us bigint,
    due_us bigint,
    ended_us bigint,
    ended_by text,
    outcome text,
    late_us bigint
);


--
-- Name: hl_agents; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_agents (
    agent text NOT NULL,
    status text,
    status_message text,
    status_us bigint,
    status_handoff_id text,
    open_count bigint,
    received bigint,
    sent bigint,
    acks_on_time bigint,
    acks_late bigint,
    completed bigint,
    declined bigint,
    escalations bigint,
    last_seen_us bigint
);


--
-- Name: hl_chain_members; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_chain_members (
    chain_id text NOT NULL,
    agent text NOT NULL,
    role text,
    since_position bigint
);


--
-- Name: hl_deliveries; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_deliveries (
    agent text NOT NULL,
    "position" bigint NOT NULL,
    url text,
    body text,
    attempts bigint,
    next_at_us bigint,
    delivered_us bigint,
    last_error text
);


--
-- Name: hl_delivery_cursors; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_delivery_cursors (
    agent text NOT NULL,
    "position" bigint
);


--
-- Name: hl_feed; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_feed (
    agent text NOT NULL,
    "position" bigint NOT NULL
);


--
-- Name: hl_feed_events; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_feed_events (
    "position" bigint NOT NULL,
    handoff_id text,
    chain_id text,
    type text,
    by text,
    at_us bigint,
    detail text
);


--
-- Name: hl_guard; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_guard (
    installed integer
);


--
-- Name: hl_handoffs; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_handoffs (
    handoff_id text NOT NULL,
    chain_id text,
    parent_id text,
    sender text,
    receiver text,
    kind text,
    trigger text,
    priority text,
    state text,
    status text,
    status_message text,
    created_us bigint,
    acked_us bigint,
    closed_us bigint,
    ack_due_us bigint,
    update_due_us bigint,
    deadline_us bigint,
    eta_us bigint,
    escalations bigint,
    last_escalation_us bigint,
    reassignments bigint,
    reason text,
    result text,
    last_event text,
    last_event_us bigint,
    last_position bigint
);


--
-- Name: hl_held; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_held (
    handoff_id text NOT NULL,
    receiver text,
    worker text,
    acked_us bigint,
    state text,
    update_due_us bigint
);


--
-- Name: hl_queue; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_queue (
    handoff_id text NOT NULL,
    receiver text,
    neg_rank bigint,
    created_us bigint,
    sender text,
    chain_id text,
    kind text,
    priority text,
    state text
);


--
-- Name: hl_reactor_passes; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_reactor_passes (
    name text NOT NULL,
    passes bigint,
    total_us bigint,
    last_us bigint,
    last_at_us bigint
);


--
-- Name: hl_timer_owners; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_timer_owners (
    handoff_id text NOT NULL,
    receiver text,
    sender text,
    chain_id text,
    kind text
);


--
-- Name: hl_timers; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_timers (
    handoff_id text NOT NULL,
    reason text NOT NULL,
    due_us bigint,
    receiver text,
    sender text,
    chain_id text,
    kind text,
    escalated_level bigint,
    next_level bigint,
    next_repeat bigint,
    next_due_us bigint
);


--
-- Name: hl_view_meta; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.hl_view_meta (
    view text NOT NULL,
    version bigint,
    generation bigint DEFAULT 0
);


--
-- Name: ledger_events; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.ledger_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigint NOT NULL
)
WITH (autovacuum_enabled='true', autovacuum_vacuum_threshold='100000000', autovacuum_vacuum_scale_factor='0.5', autovacuum_analyze_threshold='1000', autovacuum_analyze_scale_factor='0.01');


--
-- Name: ledger_events_notification_id_seq; Type: SEQUENCE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE SEQUENCE hl_fixture_before_i24.ledger_events_notification_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: ledger_events_notification_id_seq; Type: SEQUENCE OWNED BY; Schema: hl_fixture_before_i24; Owner: -
--

ALTER SEQUENCE hl_fixture_before_i24.ledger_events_notification_id_seq OWNED BY hl_fixture_before_i24.ledger_events.notification_id;


--
-- Name: ledger_tracking; Type: TABLE; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TABLE hl_fixture_before_i24.ledger_tracking (
    application_name text NOT NULL,
    notification_id bigint
)
WITH (autovacuum_enabled='true', autovacuum_vacuum_threshold='100000000', autovacuum_vacuum_scale_factor='0.5', autovacuum_analyze_threshold='1000', autovacuum_analyze_scale_factor='0.01');


--
-- Name: ledger_events notification_id; Type: DEFAULT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.ledger_events ALTER COLUMN notification_id SET DEFAULT nextval('hl_fixture_before_i24.ledger_events_notification_id_seq'::regclass);


--
-- Data for Name: hl_agent_handoffs; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_agent_handoffs VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'code_agent', 'bug_report', NULL, NULL, 0, 0, NULL, NULL);
INSERT INTO hl_fixture_before_i24.hl_agent_handoffs VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'code_agent', 'bug_report', 1796115900000000, NULL, 0, 1, NULL, 0);
INSERT INTO hl_fixture_before_i24.hl_agent_handoffs VALUES ('2fd6221b-905d-46a0-b6f2-a2e103e46716', 'code_agent', 'bug_report', 1796115900000000, 1796116800000000, 0, 1, NULL, NULL);
INSERT INTO hl_fixture_before_i24.hl_agent_handoffs VALUES ('4eb14d76-6098-5501-ad83-130ae943f39a', 'inbox_monitor', 'customer_reply', NULL, NULL, 0, 0, NULL, NULL);


--
-- Data for Name: hl_agent_open; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_agent_open VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'code_agent', 1796115600000000, 1796119200000000, 0);
INSERT INTO hl_fixture_before_i24.hl_agent_open VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'code_agent', 1796115600000000, 1796119200000000, 1);
INSERT INTO hl_fixture_before_i24.hl_agent_open VALUES ('4eb14d76-6098-5501-ad83-130ae943f39a', 'inbox_monitor', 1796119800000000, NULL, 0);


--
-- Data for Name: hl_agent_promises; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_agent_promises VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 0, 'code_agent', 'bug_report', 'update', 1796115900000000, 1796117700000000, NULL, NULL, NULL, NULL);
INSERT INTO hl_fixture_before_i24.hl_agent_promises VALUES ('2fd6221b-905d-46a0-b6f2-a2e103e46716', 0, 'code_agent', 'bug_report', 'update', 1796115900000000, 1796117700000000, 1796116800000000, 'Completed', 'kept', 0);


--
-- Data for Name: hl_agents; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_agents VALUES ('human:me', NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 1796115900000000);
INSERT INTO hl_fixture_before_i24.hl_agents VALUES ('code_agent', NULL, NULL, NULL, NULL, 2, 3, 1, 2, 0, 1, 0, 2, 1796119800000000);
INSERT INTO hl_fixture_before_i24.hl_agents VALUES ('inbox_monitor', NULL, NULL, NULL, NULL, 1, 1, 3, 0, 0, 0, 0, 0, 1796115600000000);


--
-- Data for Name: hl_chain_members; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_chain_members VALUES ('2fd6221b-905d-46a0-b6f2-a2e103e46716', 'code_agent', 'party', 3);
INSERT INTO hl_fixture_before_i24.hl_chain_members VALUES ('2fd6221b-905d-46a0-b6f2-a2e103e46716', 'inbox_monitor', 'party', 3);
INSERT INTO hl_fixture_before_i24.hl_chain_members VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'code_agent', 'party', 5);
INSERT INTO hl_fixture_before_i24.hl_chain_members VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'inbox_monitor', 'party', 4);
INSERT INTO hl_fixture_before_i24.hl_chain_members VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'code_agent', 'party', 4);
INSERT INTO hl_fixture_before_i24.hl_chain_members VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'inbox_monitor', 'party', 5);
INSERT INTO hl_fixture_before_i24.hl_chain_members VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'human:me', 'watcher', 9);
INSERT INTO hl_fixture_before_i24.hl_chain_members VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'human:me', 'escalation', 12);


--
-- Data for Name: hl_deliveries; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--



--
-- Data for Name: hl_delivery_cursors; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--



--
-- Data for Name: hl_feed; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('code_agent', 3);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('code_agent', 4);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('code_agent', 5);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('inbox_monitor', 6);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('inbox_monitor', 7);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('code_agent', 8);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('inbox_monitor', 8);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('inbox_monitor', 10);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('code_agent', 11);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('inbox_monitor', 11);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('human:me', 11);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('code_agent', 12);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('inbox_monitor', 12);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('human:me', 12);
INSERT INTO hl_fixture_before_i24.hl_feed VALUES ('inbox_monitor', 13);


--
-- Data for Name: hl_feed_events; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_feed_events VALUES (3, '2fd6221b-905d-46a0-b6f2-a2e103e46716', '2fd6221b-905d-46a0-b6f2-a2e103e46716', 'Created', 'inbox_monitor', 1796115600000000, '{"by":"inbox_monitor","chain_id":"2fd6221b-905d-46a0-b6f2-a2e103e46716","prev_hash":null,"hash":"2ff5f502a52ab2fb35cdb8dd5aa93cb1a2ce40d3a2e06f27f60be1914efdd195","scheme":"handoff-ledger/jcs-sha256-v2","sender":"inbox_monitor","receiver":"code_agent","parent_id":null,"kind":"bug_report","trigger":"a","priority":"medium","payload":{},"ack_within":3600.0,"ack_due":"2026-12-01T10:00:00Z","deadline_within":14400.0,"deadline_due":"2026-12-01T13:00:00Z","escalate_to":[],"key":null,"protocol_version":1}');
INSERT INTO hl_fixture_before_i24.hl_feed_events VALUES (4, '384cc89e-5d44-45a4-bff9-f4a477aa97ee', '384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'Created', 'inbox_monitor', 1796115600000000, '{"by":"inbox_monitor","chain_id":"384cc89e-5d44-45a4-bff9-f4a477aa97ee","prev_hash":null,"hash":"43d84ecae0bd36801362da728389e86453b64db6fe69298e91acd34bdb107116","scheme":"handoff-ledger/jcs-sha256-v2","sender":"inbox_monitor","receiver":"code_agent","parent_id":null,"kind":"bug_report","trigger":"b","priority":"medium","payload":{},"ack_within":3600.0,"ack_due":"2026-12-01T10:00:00Z","deadline_within":14400.0,"deadline_due":"2026-12-01T13:00:00Z","escalate_to":[],"key":null,"protocol_version":1}');
INSERT INTO hl_fixture_before_i24.hl_feed_events VALUES (5, '73d7f9bb-20b0-40e4-bf48-00f5239a8033', '73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'Created', 'inbox_monitor', 1796115600000000, '{"by":"inbox_monitor","chain_id":"73d7f9bb-20b0-40e4-bf48-00f5239a8033","prev_hash":null,"hash":"70a6b1e753cb4c63bc2aa5354b163f06860a213d2a6403dbca53602d2951d18b","scheme":"handoff-ledger/jcs-sha256-v2","sender":"inbox_monitor","receiver":"code_agent","parent_id":null,"kind":"bug_report","trigger":"c","priority":"medium","payload":{},"ack_within":3600.0,"ack_due":"2026-12-01T10:00:00Z","deadline_within":14400.0,"deadline_due":"2026-12-01T13:00:00Z","escalate_to":[],"key":null,"protocol_version":1}');
INSERT INTO hl_fixture_before_i24.hl_feed_events VALUES (6, '2fd6221b-905d-46a0-b6f2-a2e103e46716', '2fd6221b-905d-46a0-b6f2-a2e103e46716', 'Acked', 'code_agent', 1796115900000000, '{"by":"code_agent","chain_id":"2fd6221b-905d-46a0-b6f2-a2e103e46716","prev_hash":"2ff5f502a52ab2fb35cdb8dd5aa93cb1a2ce40d3a2e06f27f60be1914efdd195","hash":"a37026e0ef51e7fede94064edc3c23c8e19a461d795e624054908467e5318f60","scheme":"handoff-ledger/jcs-sha256-v2","eta":null,"update_due":"2026-12-01T09:35:00Z","update_every":1800.0,"implicit":false}');
INSERT INTO hl_fixture_before_i24.hl_feed_events VALUES (7, '384cc89e-5d44-45a4-bff9-f4a477aa97ee', '384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'Acked', 'code_agent', 1796115900000000, '{"by":"code_agent","chain_id":"384cc89e-5d44-45a4-bff9-f4a477aa97ee","prev_hash":"43d84ecae0bd36801362da728389e86453b64db6fe69298e91acd34bdb107116","hash":"38191ecb8d3095eb02875c886c3fe65248db275910c398b0da2c526029074ba6","scheme":"handoff-ledger/jcs-sha256-v2","eta":null,"update_due":"2026-12-01T09:35:00Z","update_every":1800.0,"implicit":false}');
INSERT INTO hl_fixture_before_i24.hl_feed_events VALUES (8, '384cc89e-5d44-45a4-bff9-f4a477aa97ee', '384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'NoteAdded', 'human:me', 1796115900000000, '{"by":"human:me","chain_id":"384cc89e-5d44-45a4-bff9-f4a477aa97ee","prev_hash":"38191ecb8d3095eb02875c886c3fe65248db275910c398b0da2c526029074ba6","hash":"40f11f4b271fc11bf3b51f50d2e2365babc097de499ba98a8256766e3c71ffd6","scheme":"handoff-ledger/jcs-sha256-v2","message":"watching this"}');
INSERT INTO hl_fixture_before_i24.hl_feed_events VALUES (10, '2fd6221b-905d-46a0-b6f2-a2e103e46716', '2fd6221b-905d-46a0-b6f2-a2e103e46716', 'Completed', 'code_agent', 1796116800000000, '{"by":"code_agent","chain_id":"2fd6221b-905d-46a0-b6f2-a2e103e46716","prev_hash":"a37026e0ef51e7fede94064edc3c23c8e19a461d795e624054908467e5318f60","hash":"0bc0fa8186633300474989011b71121faa833a4603f5f753160501d48532ae0e","scheme":"handoff-ledger/jcs-sha256-v2","result":{"fix":"PR 412"}}');
INSERT INTO hl_fixture_before_i24.hl_feed_events VALUES (11, '384cc89e-5d44-45a4-bff9-f4a477aa97ee', '384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'Escalated', 'reactor', 1796119800000000, '{"by":"reactor","chain_id":"384cc89e-5d44-45a4-bff9-f4a477aa97ee","prev_hash":"40f11f4b271fc11bf3b51f50d2e2365babc097de499ba98a8256766e3c71ffd6","hash":"048fe16270c0a398843715ec47cebbee3e3684d1f46247f59da0ab77436d53f3","scheme":"handoff-ledger/jcs-sha256-v2","reason":"update_overdue","level":1,"notified":["inbox_monitor"],"timer_due":"2026-12-01T09:35:00Z","message":null,"repeat":0,"action":"notify","next_level":null,"next_repeat":null,"next_due":null}');
INSERT INTO hl_fixture_before_i24.hl_feed_events VALUES (12, '73d7f9bb-20b0-40e4-bf48-00f5239a8033', '73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'Escalated', 'reactor', 1796119800000000, '{"by":"reactor","chain_id":"73d7f9bb-20b0-40e4-bf48-00f5239a8033","prev_hash":"70a6b1e753cb4c63bc2aa5354b163f06860a213d2a6403dbca53602d2951d18b","hash":"8eb34b56dd19da9385330ada4b1dc7fac61e5f4eb9c400a0ec0b5bd34dc3700c","scheme":"handoff-ledger/jcs-sha256-v2","reason":"ack_timeout","level":1,"notified":["human:me"],"timer_due":"2026-12-01T10:00:00Z","message":null,"repeat":0,"action":"notify","next_level":null,"next_repeat":null,"next_due":null}');
INSERT INTO hl_fixture_before_i24.hl_feed_events VALUES (13, '4eb14d76-6098-5501-ad83-130ae943f39a', '2fd6221b-905d-46a0-b6f2-a2e103e46716', 'Created', 'code_agent', 1796119800000000, '{"by":"code_agent","chain_id":"2fd6221b-905d-46a0-b6f2-a2e103e46716","prev_hash":null,"hash":"c34fbdcc5383c3e81fb024f2710680363e7feaa31036792a9fc0dd403457daf9","scheme":"handoff-ledger/jcs-sha256-v2","sender":"code_agent","receiver":"inbox_monitor","parent_id":"2fd6221b-905d-46a0-b6f2-a2e103e46716","kind":"customer_reply","trigger":null,"priority":"medium","payload":{"fix":"PR 412"},"ack_within":null,"ack_due":null,"deadline_within":null,"deadline_due":null,"escalate_to":[],"key":"follow-up:2fd6221b-905d-46a0-b6f2-a2e103e46716:3","protocol_version":1}');


--
-- Data for Name: hl_guard; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--



--
-- Data for Name: hl_handoffs; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_handoffs VALUES ('2fd6221b-905d-46a0-b6f2-a2e103e46716', '2fd6221b-905d-46a0-b6f2-a2e103e46716', NULL, 'inbox_monitor', 'code_agent', 'bug_report', 'a', 'medium', 'completed', NULL, NULL, 1796115600000000, 1796115900000000, 1796116800000000, 1796119200000000, NULL, 1796130000000000, NULL, 0, NULL, 0, NULL, '{"fix":"PR 412"}', 'Completed', 1796116800000000, 10);
INSERT INTO hl_fixture_before_i24.hl_handoffs VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', '384cc89e-5d44-45a4-bff9-f4a477aa97ee', NULL, 'inbox_monitor', 'code_agent', 'bug_report', 'b', 'medium', 'acked', NULL, NULL, 1796115600000000, 1796115900000000, NULL, 1796119200000000, 1796117700000000, 1796130000000000, NULL, 1, 1796119800000000, 0, NULL, NULL, 'Escalated', 1796119800000000, 11);
INSERT INTO hl_fixture_before_i24.hl_handoffs VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', '73d7f9bb-20b0-40e4-bf48-00f5239a8033', NULL, 'inbox_monitor', 'code_agent', 'bug_report', 'c', 'medium', 'requested', NULL, NULL, 1796115600000000, NULL, NULL, 1796119200000000, NULL, 1796130000000000, NULL, 1, 1796119800000000, 0, NULL, NULL, 'Escalated', 1796119800000000, 12);
INSERT INTO hl_fixture_before_i24.hl_handoffs VALUES ('4eb14d76-6098-5501-ad83-130ae943f39a', '2fd6221b-905d-46a0-b6f2-a2e103e46716', '2fd6221b-905d-46a0-b6f2-a2e103e46716', 'code_agent', 'inbox_monitor', 'customer_reply', NULL, 'medium', 'requested', NULL, NULL, 1796119800000000, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, NULL, NULL, 'Created', 1796119800000000, 13);


--
-- Data for Name: hl_held; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_held VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'code_agent', NULL, 1796115900000000, 'acked', 1796117700000000);


--
-- Data for Name: hl_queue; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_queue VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'code_agent', -1, 1796115600000000, 'inbox_monitor', '73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'bug_report', 'medium', 'requested');
INSERT INTO hl_fixture_before_i24.hl_queue VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'code_agent', -1, 1796115600000000, 'inbox_monitor', '384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'bug_report', 'medium', 'acked');
INSERT INTO hl_fixture_before_i24.hl_queue VALUES ('4eb14d76-6098-5501-ad83-130ae943f39a', 'inbox_monitor', -1, 1796119800000000, 'code_agent', '2fd6221b-905d-46a0-b6f2-a2e103e46716', 'customer_reply', 'medium', 'requested');


--
-- Data for Name: hl_reactor_passes; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_reactor_passes VALUES ('reactor', 1, 126308, 126308, 1796119800000000);


--
-- Data for Name: hl_timer_owners; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_timer_owners VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'code_agent', 'inbox_monitor', '384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'bug_report');
INSERT INTO hl_fixture_before_i24.hl_timer_owners VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'code_agent', 'inbox_monitor', '73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'bug_report');
INSERT INTO hl_fixture_before_i24.hl_timer_owners VALUES ('4eb14d76-6098-5501-ad83-130ae943f39a', 'inbox_monitor', 'code_agent', '2fd6221b-905d-46a0-b6f2-a2e103e46716', 'customer_reply');


--
-- Data for Name: hl_timers; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_timers VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'deadline_missed', 1796130000000000, 'code_agent', 'inbox_monitor', '73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'bug_report', 0, 1, 0, 1796130000000000);
INSERT INTO hl_fixture_before_i24.hl_timers VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'deadline_missed', 1796130000000000, 'code_agent', 'inbox_monitor', '384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'bug_report', 0, 1, 0, 1796130000000000);
INSERT INTO hl_fixture_before_i24.hl_timers VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'update_overdue', 1796117700000000, 'code_agent', 'inbox_monitor', '384cc89e-5d44-45a4-bff9-f4a477aa97ee', 'bug_report', 1, NULL, NULL, NULL);
INSERT INTO hl_fixture_before_i24.hl_timers VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'ack_timeout', 1796119200000000, 'code_agent', 'inbox_monitor', '73d7f9bb-20b0-40e4-bf48-00f5239a8033', 'bug_report', 1, NULL, NULL, NULL);


--
-- Data for Name: hl_view_meta; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.hl_view_meta VALUES ('agents', 3, 0);
INSERT INTO hl_fixture_before_i24.hl_view_meta VALUES ('chains', 2, 0);
INSERT INTO hl_fixture_before_i24.hl_view_meta VALUES ('notifications', 2, 0);
INSERT INTO hl_fixture_before_i24.hl_view_meta VALUES ('queues', 2, 0);
INSERT INTO hl_fixture_before_i24.hl_view_meta VALUES ('timers', 3, 0);
INSERT INTO hl_fixture_before_i24.hl_view_meta VALUES ('work', 1, 0);


--
-- Data for Name: ledger_events; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('1d0a7c55-0f5e-4c4e-8f3a-6f7d0b9e2c01', 1, 'handoff_ledger.domain.protocol_record:ProtocolRecord.Created', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a30303a30302b30303a3030227d2c226f726967696e61746f725f746f706963223a2268616e646f66665f6c65646765722e646f6d61696e2e70726f746f636f6c5f7265636f72643a50726f746f636f6c5265636f7264222c226279223a2261646d696e222c22736f75726365223a222f776f726b2f77742d777269746572732f74657374732f646174612f70675f6265666f72655f6932342f70726f746f636f6c2e746f6d6c222c2274657874223a225c6e5b6167656e74732e696e626f785f6d6f6e69746f725d5c6e5b6167656e74732e636f64655f6167656e745d5c6e5b6167656e74732e737570706f72745f6167656e745d5c6e5b6167656e74732e5c2268756d616e3a6d655c225d5c6e5c6e5b6b696e64732e6275675f7265706f72745d5c6e746f203d205c22636f64655f6167656e745c225c6e61636b5f77697468696e203d205c2231685c225c6e646561646c696e65203d205c2234685c225c6e657363616c6174696f6e203d205b207b206f6e203d205c2261636b5f74696d656f75745c222c206e6f74696679203d205b5c2268756d616e3a6d655c225d207d205d5c6e6f6e5f636f6d706c657465203d207b206b696e64203d205c22637573746f6d65725f7265706c795c222c20746f203d205c22696e626f785f6d6f6e69746f725c22207d5c6e5c6e5b6b696e64732e637573746f6d65725f7265706c795d5c6e746f203d205c22696e626f785f6d6f6e69746f725c225c6e222c22736861323536223a2235616633373364616464633262663630383639633866363330353831386631333231643338386634353231613764656663343632376534363331336665326131227d', 1);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('6a54600d-847c-591b-b2ba-5cdeea59307d', 1, 'handoff_ledger.domain.tokens:AgentToken.Issued', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a30303a30302b30303a3030227d2c226f726967696e61746f725f746f706963223a2268616e646f66665f6c65646765722e646f6d61696e2e746f6b656e733a4167656e74546f6b656e222c226167656e74223a22636f64655f6167656e74222c2261646d696e223a66616c73652c226279223a2261646d696e222c22686173686564223a2235303961353765363562386366613262623562386631366461393738353661353430376435613065633566636264663465376163616634316432396334663439227d', 2);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('2fd6221b-905d-46a0-b6f2-a2e103e46716', 1, 'handoff_ledger.domain.handoff:Handoff.Created', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a30303a30302b30303a3030227d2c226f726967696e61746f725f746f706963223a2268616e646f66665f6c65646765722e646f6d61696e2e68616e646f66663a48616e646f6666222c226279223a22696e626f785f6d6f6e69746f72222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223266643632323162393035643436613062366632613265313033653436373136227d2c22707265765f68617368223a6e756c6c2c2268617368223a2232666635663530326135326162326662333563646238646435616139336362316132636534306433613265303666323766363062653139313465666464313935222c22736368656d65223a2268616e646f66662d6c65646765722f6a63732d7368613235362d7632222c2273656e646572223a22696e626f785f6d6f6e69746f72222c227265636569766572223a22636f64655f6167656e74222c22706172656e745f6964223a6e756c6c2c226b696e64223a226275675f7265706f7274222c2274726967676572223a2261222c227072696f72697479223a226d656469756d222c227061796c6f6164223a7b7d2c2261636b5f77697468696e223a333630302e302c2261636b5f647565223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315431303a30303a30302b30303a3030227d2c22646561646c696e655f77697468696e223a31343430302e302c22646561646c696e655f647565223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315431333a30303a30302b30303a3030227d2c22657363616c6174655f746f223a5b5d2c226b6579223a6e756c6c2c2270726f746f636f6c5f76657273696f6e223a317d', 3);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 1, 'handoff_ledger.domain.handoff:Handoff.Created', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a30303a30302b30303a3030227d2c226f726967696e61746f725f746f706963223a2268616e646f66665f6c65646765722e646f6d61696e2e68616e646f66663a48616e646f6666222c226279223a22696e626f785f6d6f6e69746f72222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223338346363383965356434343435613462666639663461343737616139376565227d2c22707265765f68617368223a6e756c6c2c2268617368223a2234336438346563616530626433363830313336326461373238333839653836343533623634646236666536393239386539316163643334626462313037313136222c22736368656d65223a2268616e646f66662d6c65646765722f6a63732d7368613235362d7632222c2273656e646572223a22696e626f785f6d6f6e69746f72222c227265636569766572223a22636f64655f6167656e74222c22706172656e745f6964223a6e756c6c2c226b696e64223a226275675f7265706f7274222c2274726967676572223a2262222c227072696f72697479223a226d656469756d222c227061796c6f6164223a7b7d2c2261636b5f77697468696e223a333630302e302c2261636b5f647565223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315431303a30303a30302b30303a3030227d2c22646561646c696e655f77697468696e223a31343430302e302c22646561646c696e655f647565223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315431333a30303a30302b30303a3030227d2c22657363616c6174655f746f223a5b5d2c226b6579223a6e756c6c2c2270726f746f636f6c5f76657273696f6e223a317d', 4);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 1, 'handoff_ledger.domain.handoff:Handoff.Created', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a30303a30302b30303a3030227d2c226f726967696e61746f725f746f706963223a2268616e646f66665f6c65646765722e646f6d61696e2e68616e646f66663a48616e646f6666222c226279223a22696e626f785f6d6f6e69746f72222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223733643766396262323062303430653462663438303066353233396138303333227d2c22707265765f68617368223a6e756c6c2c2268617368223a2237306136623165373533636234633633626332616135333534623136336630363836306132313364326136343033646263613533363032643239353164313862222c22736368656d65223a2268616e646f66662d6c65646765722f6a63732d7368613235362d7632222c2273656e646572223a22696e626f785f6d6f6e69746f72222c227265636569766572223a22636f64655f6167656e74222c22706172656e745f6964223a6e756c6c2c226b696e64223a226275675f7265706f7274222c2274726967676572223a2263222c227072696f72697479223a226d656469756d222c227061796c6f6164223a7b7d2c2261636b5f77697468696e223a333630302e302c2261636b5f647565223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315431303a30303a30302b30303a3030227d2c22646561646c696e655f77697468696e223a31343430302e302c22646561646c696e655f647565223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315431333a30303a30302b30303a3030227d2c22657363616c6174655f746f223a5b5d2c226b6579223a6e756c6c2c2270726f746f636f6c5f76657273696f6e223a317d', 5);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('2fd6221b-905d-46a0-b6f2-a2e103e46716', 2, 'handoff_ledger.domain.handoff:Handoff.Acked', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a30353a30302b30303a3030227d2c226279223a22636f64655f6167656e74222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223266643632323162393035643436613062366632613265313033653436373136227d2c22707265765f68617368223a2232666635663530326135326162326662333563646238646435616139336362316132636534306433613265303666323766363062653139313465666464313935222c2268617368223a2261333730323665306566353165376665646539343036346564633363323363386531396134363164373935653632343035343930383436376535333138663630222c22736368656d65223a2268616e646f66662d6c65646765722f6a63732d7368613235362d7632222c22657461223a6e756c6c2c227570646174655f647565223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a33353a30302b30303a3030227d2c227570646174655f6576657279223a313830302e302c22696d706c69636974223a66616c73657d', 6);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 2, 'handoff_ledger.domain.handoff:Handoff.Acked', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a30353a30302b30303a3030227d2c226279223a22636f64655f6167656e74222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223338346363383965356434343435613462666639663461343737616139376565227d2c22707265765f68617368223a2234336438346563616530626433363830313336326461373238333839653836343533623634646236666536393239386539316163643334626462313037313136222c2268617368223a2233383139316563623864333039356562303238373563383836633366653635323438646232373539313063333938623064613263353236303239303734626136222c22736368656d65223a2268616e646f66662d6c65646765722f6a63732d7368613235362d7632222c22657461223a6e756c6c2c227570646174655f647565223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a33353a30302b30303a3030227d2c227570646174655f6576657279223a313830302e302c22696d706c69636974223a66616c73657d', 7);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 3, 'handoff_ledger.domain.handoff:Handoff.NoteAdded', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a30353a30302b30303a3030227d2c226279223a2268756d616e3a6d65222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223338346363383965356434343435613462666639663461343737616139376565227d2c22707265765f68617368223a2233383139316563623864333039356562303238373563383836633366653635323438646232373539313063333938623064613263353236303239303734626136222c2268617368223a2234306631316634623237316663313162663362353166353064326532333635626162633039376465343939626139386138323536373636653363373166666436222c22736368656d65223a2268616e646f66662d6c65646765722f6a63732d7368613235362d7632222c226d657373616765223a227761746368696e672074686973227d', 8);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('64e52376-728a-583f-b34e-657ae01d8ffa', 1, 'handoff_ledger.domain.watch:ChainWatch.Started', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a30353a30302b30303a3030227d2c226f726967696e61746f725f746f706963223a2268616e646f66665f6c65646765722e646f6d61696e2e77617463683a436861696e5761746368222c226279223a2268756d616e3a6d65222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223338346363383965356434343435613462666639663461343737616139376565227d7d', 9);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('2fd6221b-905d-46a0-b6f2-a2e103e46716', 3, 'handoff_ledger.domain.handoff:Handoff.Completed', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a32303a30302b30303a3030227d2c226279223a22636f64655f6167656e74222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223266643632323162393035643436613062366632613265313033653436373136227d2c22707265765f68617368223a2261333730323665306566353165376665646539343036346564633363323363386531396134363164373935653632343035343930383436376535333138663630222c2268617368223a2230626330666138313836363333333030343734393839303131623731313231666161383333613436303366356637353331363035303164343835333261653065222c22736368656d65223a2268616e646f66662d6c65646765722f6a63732d7368613235362d7632222c22726573756c74223a7b22666978223a22505220343132227d7d', 10);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('384cc89e-5d44-45a4-bff9-f4a477aa97ee', 4, 'handoff_ledger.domain.handoff:Handoff.Escalated', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315431303a31303a30302b30303a3030227d2c226279223a2272656163746f72222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223338346363383965356434343435613462666639663461343737616139376565227d2c22707265765f68617368223a2234306631316634623237316663313162663362353166353064326532333635626162633039376465343939626139386138323536373636653363373166666436222c2268617368223a2230343866653136323730633061333938383433373135656334376365626265653365333638346431663436323437663539646130616237373433366435336633222c22736368656d65223a2268616e646f66662d6c65646765722f6a63732d7368613235362d7632222c22726561736f6e223a227570646174655f6f766572647565222c226c6576656c223a312c226e6f746966696564223a5b22696e626f785f6d6f6e69746f72225d2c2274696d65725f647565223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315430393a33353a30302b30303a3030227d2c226d657373616765223a6e756c6c2c22726570656174223a302c22616374696f6e223a226e6f74696679222c226e6578745f6c6576656c223a6e756c6c2c226e6578745f726570656174223a6e756c6c2c226e6578745f647565223a6e756c6c7d', 11);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('73d7f9bb-20b0-40e4-bf48-00f5239a8033', 2, 'handoff_ledger.domain.handoff:Handoff.Escalated', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315431303a31303a30302b30303a3030227d2c226279223a2272656163746f72222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223733643766396262323062303430653462663438303066353233396138303333227d2c22707265765f68617368223a2237306136623165373533636234633633626332616135333534623136336630363836306132313364326136343033646263613533363032643239353164313862222c2268617368223a2238656233346235366464313964613933383533333061646134623164633766616336316535663465623963343030613065633062356264333464633337303063222c22736368656d65223a2268616e646f66662d6c65646765722f6a63732d7368613235362d7632222c22726561736f6e223a2261636b5f74696d656f7574222c226c6576656c223a312c226e6f746966696564223a5b2268756d616e3a6d65225d2c2274696d65725f647565223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315431303a30303a30302b30303a3030227d2c226d657373616765223a6e756c6c2c22726570656174223a302c22616374696f6e223a226e6f74696679222c226e6578745f6c6576656c223a6e756c6c2c226e6578745f726570656174223a6e756c6c2c226e6578745f647565223a6e756c6c7d', 12);
INSERT INTO hl_fixture_before_i24.ledger_events VALUES ('4eb14d76-6098-5501-ad83-130ae943f39a', 1, 'handoff_ledger.domain.handoff:Handoff.Created', '\x7b2274696d657374616d70223a7b225f747970655f223a226461746574696d655f69736f222c225f646174615f223a22323032362d31322d30315431303a31303a30302b30303a3030227d2c226f726967696e61746f725f746f706963223a2268616e646f66665f6c65646765722e646f6d61696e2e68616e646f66663a48616e646f6666222c226279223a22636f64655f6167656e74222c22636861696e5f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223266643632323162393035643436613062366632613265313033653436373136227d2c22707265765f68617368223a6e756c6c2c2268617368223a2263333466626463633533383363336538316662303234663237313036383033363365376665616133313033363739326139666330646434303334353764616639222c22736368656d65223a2268616e646f66662d6c65646765722f6a63732d7368613235362d7632222c2273656e646572223a22636f64655f6167656e74222c227265636569766572223a22696e626f785f6d6f6e69746f72222c22706172656e745f6964223a7b225f747970655f223a22757569645f686578222c225f646174615f223a223266643632323162393035643436613062366632613265313033653436373136227d2c226b696e64223a22637573746f6d65725f7265706c79222c2274726967676572223a6e756c6c2c227072696f72697479223a226d656469756d222c227061796c6f6164223a7b22666978223a22505220343132227d2c2261636b5f77697468696e223a6e756c6c2c2261636b5f647565223a6e756c6c2c22646561646c696e655f77697468696e223a6e756c6c2c22646561646c696e655f647565223a6e756c6c2c22657363616c6174655f746f223a5b5d2c226b6579223a22666f6c6c6f772d75703a32666436323231622d393035642d343661302d623666322d6132653130336534363731363a33222c2270726f746f636f6c5f76657273696f6e223a317d', 13);


--
-- Data for Name: ledger_tracking; Type: TABLE DATA; Schema: hl_fixture_before_i24; Owner: -
--

INSERT INTO hl_fixture_before_i24.ledger_tracking VALUES ('__migration__', 1);
INSERT INTO hl_fixture_before_i24.ledger_tracking VALUES ('reactor.follow_ups', 13);
INSERT INTO hl_fixture_before_i24.ledger_tracking VALUES ('agents', 13);
INSERT INTO hl_fixture_before_i24.ledger_tracking VALUES ('chains', 13);
INSERT INTO hl_fixture_before_i24.ledger_tracking VALUES ('notifications', 13);
INSERT INTO hl_fixture_before_i24.ledger_tracking VALUES ('queues', 13);
INSERT INTO hl_fixture_before_i24.ledger_tracking VALUES ('timers', 13);
INSERT INTO hl_fixture_before_i24.ledger_tracking VALUES ('work', 13);


--
-- Name: ledger_events_notification_id_seq; Type: SEQUENCE SET; Schema: hl_fixture_before_i24; Owner: -
--

SELECT pg_catalog.setval('hl_fixture_before_i24.ledger_events_notification_id_seq', 13, true);


--
-- Name: hl_agent_handoffs hl_agent_handoffs_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_agent_handoffs
    ADD CONSTRAINT hl_agent_handoffs_pkey PRIMARY KEY (handoff_id);


--
-- Name: hl_agent_open hl_agent_open_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_agent_open
    ADD CONSTRAINT hl_agent_open_pkey PRIMARY KEY (handoff_id);


--
-- Name: hl_agent_promises hl_agent_promises_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_agent_promises
    ADD CONSTRAINT hl_agent_promises_pkey PRIMARY KEY (handoff_id, seq);


--
-- Name: hl_agents hl_agents_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_agents
    ADD CONSTRAINT hl_agents_pkey PRIMARY KEY (agent);


--
-- Name: hl_chain_members hl_chain_members_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_chain_members
    ADD CONSTRAINT hl_chain_members_pkey PRIMARY KEY (chain_id, agent);


--
-- Name: hl_deliveries hl_deliveries_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_deliveries
    ADD CONSTRAINT hl_deliveries_pkey PRIMARY KEY (agent, "position");


--
-- Name: hl_delivery_cursors hl_delivery_cursors_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_delivery_cursors
    ADD CONSTRAINT hl_delivery_cursors_pkey PRIMARY KEY (agent);


--
-- Name: hl_feed_events hl_feed_events_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_feed_events
    ADD CONSTRAINT hl_feed_events_pkey PRIMARY KEY ("position");


--
-- Name: hl_feed hl_feed_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_feed
    ADD CONSTRAINT hl_feed_pkey PRIMARY KEY (agent, "position");


--
-- Name: hl_handoffs hl_handoffs_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_handoffs
    ADD CONSTRAINT hl_handoffs_pkey PRIMARY KEY (handoff_id);


--
-- Name: hl_held hl_held_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_held
    ADD CONSTRAINT hl_held_pkey PRIMARY KEY (handoff_id);


--
-- Name: hl_queue hl_queue_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_queue
    ADD CONSTRAINT hl_queue_pkey PRIMARY KEY (handoff_id);


--
-- Name: hl_reactor_passes hl_reactor_passes_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_reactor_passes
    ADD CONSTRAINT hl_reactor_passes_pkey PRIMARY KEY (name);


--
-- Name: hl_timer_owners hl_timer_owners_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_timer_owners
    ADD CONSTRAINT hl_timer_owners_pkey PRIMARY KEY (handoff_id);


--
-- Name: hl_timers hl_timers_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_timers
    ADD CONSTRAINT hl_timers_pkey PRIMARY KEY (handoff_id, reason);


--
-- Name: hl_view_meta hl_view_meta_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.hl_view_meta
    ADD CONSTRAINT hl_view_meta_pkey PRIMARY KEY (view);


--
-- Name: ledger_events ledger_events_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.ledger_events
    ADD CONSTRAINT ledger_events_pkey PRIMARY KEY (originator_id, originator_version);


--
-- Name: ledger_tracking ledger_tracking_pkey; Type: CONSTRAINT; Schema: hl_fixture_before_i24; Owner: -
--

ALTER TABLE ONLY hl_fixture_before_i24.ledger_tracking
    ADD CONSTRAINT ledger_tracking_pkey PRIMARY KEY (application_name);


--
-- Name: hl_agent_handoffs_ix0; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE INDEX hl_agent_handoffs_ix0 ON hl_fixture_before_i24.hl_agent_handoffs USING btree (receiver, kind, completed_us);


--
-- Name: hl_agent_open_ix0; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE INDEX hl_agent_open_ix0 ON hl_fixture_before_i24.hl_agent_open USING btree (receiver, created_us);


--
-- Name: hl_agent_promises_ix0; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE INDEX hl_agent_promises_ix0 ON hl_fixture_before_i24.hl_agent_promises USING btree (agent);


--
-- Name: hl_deliveries_due; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE INDEX hl_deliveries_due ON hl_fixture_before_i24.hl_deliveries USING btree (next_at_us) WHERE (delivered_us IS NULL);


--
-- Name: hl_handoffs_ix0; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE INDEX hl_handoffs_ix0 ON hl_fixture_before_i24.hl_handoffs USING btree (chain_id);


--
-- Name: hl_held_ix0; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE INDEX hl_held_ix0 ON hl_fixture_before_i24.hl_held USING btree (receiver, worker);


--
-- Name: hl_held_ix1; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE INDEX hl_held_ix1 ON hl_fixture_before_i24.hl_held USING btree (receiver, update_due_us);


--
-- Name: hl_queue_ix0; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE INDEX hl_queue_ix0 ON hl_fixture_before_i24.hl_queue USING btree (receiver, neg_rank, created_us, handoff_id);


--
-- Name: hl_timers_ix0; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE INDEX hl_timers_ix0 ON hl_fixture_before_i24.hl_timers USING btree (due_us);


--
-- Name: hl_timers_ix1; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE INDEX hl_timers_ix1 ON hl_fixture_before_i24.hl_timers USING btree (next_due_us);


--
-- Name: ledger_events_notification_id_idx; Type: INDEX; Schema: hl_fixture_before_i24; Owner: -
--

CREATE UNIQUE INDEX ledger_events_notification_id_idx ON hl_fixture_before_i24.ledger_events USING btree (notification_id);


--
-- Name: ledger_events hl_events_append_only; Type: TRIGGER; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TRIGGER hl_events_append_only BEFORE DELETE OR UPDATE ON hl_fixture_before_i24.ledger_events FOR EACH ROW EXECUTE FUNCTION hl_fixture_before_i24.hl_refuse_log_change();

ALTER TABLE hl_fixture_before_i24.ledger_events ENABLE ALWAYS TRIGGER hl_events_append_only;


--
-- Name: ledger_events hl_events_no_truncate; Type: TRIGGER; Schema: hl_fixture_before_i24; Owner: -
--

CREATE TRIGGER hl_events_no_truncate BEFORE TRUNCATE ON hl_fixture_before_i24.ledger_events FOR EACH STATEMENT EXECUTE FUNCTION hl_fixture_before_i24.hl_refuse_log_change();

ALTER TABLE hl_fixture_before_i24.ledger_events ENABLE ALWAYS TRIGGER hl_events_no_truncate;


--
-- PostgreSQL database dump complete
--


