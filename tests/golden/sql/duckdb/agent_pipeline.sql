WITH "@p:in" AS (
SELECT *
FROM "requests"
),
"@p:val" AS (
SELECT *,
  CASE WHEN (NOT "input_tokens" IS NOT NULL) THEN 'R001' WHEN "input_tokens" IS NULL THEN 'R003' ELSE CASE WHEN ("input_tokens" < 0 OR "input_tokens" > 10000000) THEN 'R003' END END AS "@p:c0",
  CASE WHEN "input_tokens" IS NOT NULL THEN TRY_CAST("input_tokens" AS DECIMAL(38, 0)) END AS "@p:s0v",
  CASE WHEN (NOT "document_count" IS NOT NULL) THEN NULL WHEN "document_count" IS NULL THEN 'R003' ELSE CASE WHEN ("document_count" < 0 OR "document_count" > 100000) THEN 'R003' END END AS "@p:c1",
  CASE WHEN "document_count" IS NOT NULL THEN TRY_CAST("document_count" AS DECIMAL(38, 0)) ELSE 0 END AS "@p:s1v",
  CASE WHEN (NOT "conversation_depth" IS NOT NULL) THEN NULL WHEN "conversation_depth" IS NULL THEN 'R003' ELSE CASE WHEN ("conversation_depth" < 0 OR "conversation_depth" > 1000000) THEN 'R003' END END AS "@p:c2",
  CASE WHEN "conversation_depth" IS NOT NULL THEN TRY_CAST("conversation_depth" AS DECIMAL(38, 0)) ELSE 0 END AS "@p:s2v",
  CASE WHEN (NOT "tool_count" IS NOT NULL) THEN NULL WHEN "tool_count" IS NULL THEN 'R003' ELSE CASE WHEN ("tool_count" < 0 OR "tool_count" > 1000) THEN 'R003' END END AS "@p:c3",
  CASE WHEN "tool_count" IS NOT NULL THEN TRY_CAST("tool_count" AS DECIMAL(38, 0)) ELSE 0 END AS "@p:s3v",
  CASE WHEN (NOT "step_count" IS NOT NULL) THEN NULL WHEN "step_count" IS NULL THEN 'R003' ELSE CASE WHEN ("step_count" < 0 OR "step_count" > 1000) THEN 'R003' END END AS "@p:c4",
  CASE WHEN "step_count" IS NOT NULL THEN TRY_CAST("step_count" AS DECIMAL(38, 0)) ELSE 1 END AS "@p:s4v",
  CASE WHEN (NOT "step" IS NOT NULL) THEN NULL ELSE CASE WHEN "step" IN ('plan', 'execute', 'final') THEN NULL ELSE 'R003' END END AS "@p:c5",
  CASE WHEN "step" IS NOT NULL THEN "step" ELSE 'execute' END AS "@p:s5v",
  CASE WHEN (NOT "agentic" IS NOT NULL) THEN NULL END AS "@p:c6",
  CASE WHEN "agentic" IS NOT NULL THEN "agentic" ELSE FALSE END AS "@p:s6v",
  CASE WHEN (NOT "external_comms" IS NOT NULL) THEN NULL END AS "@p:c7",
  CASE WHEN "external_comms" IS NOT NULL THEN "external_comms" ELSE FALSE END AS "@p:s7v",
  CASE WHEN (NOT "irreversible" IS NOT NULL) THEN NULL END AS "@p:c8",
  CASE WHEN "irreversible" IS NOT NULL THEN "irreversible" ELSE FALSE END AS "@p:s8v",
  CASE WHEN (NOT "compliance_sensitive" IS NOT NULL) THEN NULL END AS "@p:c9",
  CASE WHEN "compliance_sensitive" IS NOT NULL THEN "compliance_sensitive" ELSE FALSE END AS "@p:s9v",
  CASE WHEN (NOT "pii" IS NOT NULL) THEN NULL END AS "@p:c10",
  CASE WHEN "pii" IS NOT NULL THEN "pii" ELSE FALSE END AS "@p:s10v",
  CASE WHEN (NOT "financial" IS NOT NULL) THEN NULL END AS "@p:c11",
  CASE WHEN "financial" IS NOT NULL THEN "financial" ELSE FALSE END AS "@p:s11v",
  CASE WHEN (NOT "sync" IS NOT NULL) THEN NULL END AS "@p:c12",
  CASE WHEN "sync" IS NOT NULL THEN "sync" ELSE TRUE END AS "@p:s12v",
  CASE WHEN (NOT "user_tier" IS NOT NULL) THEN NULL ELSE CASE WHEN "user_tier" IN ('free', 'pro', 'enterprise') THEN NULL ELSE 'R003' END END AS "@p:c13",
  CASE WHEN "user_tier" IS NOT NULL THEN "user_tier" ELSE 'free' END AS "@p:s13v",
  CASE WHEN (NOT "remaining_budget" IS NOT NULL) THEN NULL ELSE CASE WHEN ("remaining_budget" < CAST('0' AS DECIMAL(18, 18)) OR "remaining_budget" > CAST('1000000' AS DECIMAL(25, 18))) THEN 'R003' END END AS "@p:c14",
  CASE WHEN "remaining_budget" IS NOT NULL THEN CAST("remaining_budget" AS DOUBLE) ELSE CAST('1000000.0' AS DOUBLE) END AS "@p:s14v",
  CASE WHEN "remaining_budget" IS NOT NULL THEN TRY_CAST("remaining_budget" AS DECIMAL(38, 18)) ELSE CAST('1000000' AS DECIMAL(25, 18)) END AS "@p:s14e",
  CASE WHEN "remaining_budget" IS NOT NULL THEN FALSE ELSE FALSE END AS "@p:s14f",
  ("@outcomes" IS NOT NULL AND array_length(list_filter("@outcomes", lambda x: x IS NULL)) > 0) AS "@p:shape",
  CASE WHEN "@outcomes" IS NOT NULL THEN array_length("@outcomes") ELSE 0 END AS "@p:n_outcomes",
  CASE WHEN "@p:shape" THEN 'R002' WHEN "@p:c0" IS NOT NULL THEN "@p:c0" WHEN "@p:c1" IS NOT NULL THEN "@p:c1" WHEN "@p:c2" IS NOT NULL THEN "@p:c2" WHEN "@p:c3" IS NOT NULL THEN "@p:c3" WHEN "@p:c4" IS NOT NULL THEN "@p:c4" WHEN "@p:c5" IS NOT NULL THEN "@p:c5" WHEN "@p:c6" IS NOT NULL THEN "@p:c6" WHEN "@p:c7" IS NOT NULL THEN "@p:c7" WHEN "@p:c8" IS NOT NULL THEN "@p:c8" WHEN "@p:c9" IS NOT NULL THEN "@p:c9" WHEN "@p:c10" IS NOT NULL THEN "@p:c10" WHEN "@p:c11" IS NOT NULL THEN "@p:c11" WHEN "@p:c12" IS NOT NULL THEN "@p:c12" WHEN "@p:c13" IS NOT NULL THEN "@p:c13" WHEN "@p:c14" IS NOT NULL THEN "@p:c14" END AS "@p:error",
  CASE WHEN "@p:shape" THEN NULL WHEN "@p:c0" IS NOT NULL THEN 'input_tokens' WHEN "@p:c1" IS NOT NULL THEN 'document_count' WHEN "@p:c2" IS NOT NULL THEN 'conversation_depth' WHEN "@p:c3" IS NOT NULL THEN 'tool_count' WHEN "@p:c4" IS NOT NULL THEN 'step_count' WHEN "@p:c5" IS NOT NULL THEN 'step' WHEN "@p:c6" IS NOT NULL THEN 'agentic' WHEN "@p:c7" IS NOT NULL THEN 'external_comms' WHEN "@p:c8" IS NOT NULL THEN 'irreversible' WHEN "@p:c9" IS NOT NULL THEN 'compliance_sensitive' WHEN "@p:c10" IS NOT NULL THEN 'pii' WHEN "@p:c11" IS NOT NULL THEN 'financial' WHEN "@p:c12" IS NOT NULL THEN 'sync' WHEN "@p:c13" IS NOT NULL THEN 'user_tier' WHEN "@p:c14" IS NOT NULL THEN 'remaining_budget' END AS "@p:error_signal",
  CASE WHEN (("input_tokens" IS NOT NULL AND "input_tokens" IS NULL) OR ("input_tokens" IS NOT NULL AND abs("input_tokens") > CAST('100000000000000000000' AS DECIMAL(38, 0)))) THEN 'input_tokens' WHEN (("document_count" IS NOT NULL AND "document_count" IS NULL) OR ("document_count" IS NOT NULL AND abs("document_count") > CAST('100000000000000000000' AS DECIMAL(38, 0)))) THEN 'document_count' WHEN (("conversation_depth" IS NOT NULL AND "conversation_depth" IS NULL) OR ("conversation_depth" IS NOT NULL AND abs("conversation_depth") > CAST('100000000000000000000' AS DECIMAL(38, 0)))) THEN 'conversation_depth' WHEN (("tool_count" IS NOT NULL AND "tool_count" IS NULL) OR ("tool_count" IS NOT NULL AND abs("tool_count") > CAST('100000000000000000000' AS DECIMAL(38, 0)))) THEN 'tool_count' WHEN (("step_count" IS NOT NULL AND "step_count" IS NULL) OR ("step_count" IS NOT NULL AND abs("step_count") > CAST('100000000000000000000' AS DECIMAL(38, 0)))) THEN 'step_count' WHEN ("remaining_budget" IS NOT NULL AND abs(CAST("remaining_budget" AS DOUBLE)) >= CAST('1e20' AS DOUBLE)) THEN 'remaining_budget' END AS "@p:unheld"
FROM "@p:in"
),
"@p:cond" AS (
SELECT *,
  "@p:s0v" > 120000 AS "@p:r0",
  ("@p:s5v" = 'plan') AS "@p:r1",
  (("@p:s5v" = 'final') AND ("@p:s7v" OR "@p:s8v")) AS "@p:r2",
  ("@p:s5v" = 'final') AS "@p:r3",
  "@p:s8v" AS "@p:r4"
FROM "@p:val"
),
"@p:rule" AS (
SELECT *, CASE WHEN "@p:error" IS NULL AND "@p:unheld" IS NOT NULL THEN -1 ELSE CASE WHEN "@p:error" IS NOT NULL THEN NULL WHEN "@p:r0" IS NULL THEN -1 WHEN "@p:r0" THEN 0 WHEN "@p:r1" IS NULL THEN -1 WHEN "@p:r1" THEN 1 WHEN "@p:r2" IS NULL THEN -1 WHEN "@p:r2" THEN 2 WHEN "@p:r3" IS NULL THEN -1 WHEN "@p:r3" THEN 3 WHEN "@p:r4" IS NULL THEN -1 WHEN "@p:r4" THEN 4 ELSE 5 END END AS "@p:rule"
FROM "@p:cond"
),
"@p:climb" AS (
SELECT *,
  CASE WHEN "@p:n_outcomes" <= 0 THEN 1 WHEN "@p:o0code" IS NOT NULL THEN -100 WHEN "@p:o0unheld" THEN -200 WHEN "@p:e0_0" IS NULL THEN -200 WHEN (NOT "@p:e0_0") THEN 1 ELSE 2 END AS "@p:k0"
FROM (SELECT *,
  ("@p:o0_0v" < CAST('0.6' AS DOUBLE) OR (NOT "@p:o0_1v") OR "@p:o0_2v" >= 2) AS "@p:e0_0"
FROM (SELECT *,
  CASE WHEN (NOT "@outcomes"[1]."confidence" IS NOT NULL) THEN NULL ELSE CASE WHEN (NOT (NOT isnan("@outcomes"[1]."confidence") AND abs("@outcomes"[1]."confidence") <= CAST('1.7976931348623157e308' AS DOUBLE))) THEN 'R003' WHEN ("@outcomes"[1]."confidence" < CAST('0.0' AS DOUBLE) OR "@outcomes"[1]."confidence" > CAST('1.0' AS DOUBLE)) THEN 'R003' END END AS "@p:o0c0",
  CASE WHEN "@outcomes"[1]."confidence" IS NOT NULL THEN "@outcomes"[1]."confidence" ELSE CAST('1.0' AS DOUBLE) END AS "@p:o0_0v",
  CASE WHEN (NOT "@outcomes"[1]."valid" IS NOT NULL) THEN NULL END AS "@p:o0c1",
  CASE WHEN "@outcomes"[1]."valid" IS NOT NULL THEN "@outcomes"[1]."valid" ELSE TRUE END AS "@p:o0_1v",
  CASE WHEN (NOT "@outcomes"[1]."tool_failures" IS NOT NULL) THEN NULL WHEN "@outcomes"[1]."tool_failures" IS NULL THEN 'R003' ELSE CASE WHEN ("@outcomes"[1]."tool_failures" < 0 OR "@outcomes"[1]."tool_failures" > 1000) THEN 'R003' END END AS "@p:o0c2",
  CASE WHEN "@outcomes"[1]."tool_failures" IS NOT NULL THEN TRY_CAST("@outcomes"[1]."tool_failures" AS DECIMAL(38, 0)) ELSE 0 END AS "@p:o0_2v",
  CASE WHEN (NOT "@outcomes"[1]."retries" IS NOT NULL) THEN NULL WHEN "@outcomes"[1]."retries" IS NULL THEN 'R003' ELSE CASE WHEN ("@outcomes"[1]."retries" < 0 OR "@outcomes"[1]."retries" > 1000) THEN 'R003' END END AS "@p:o0c3",
  CASE WHEN "@outcomes"[1]."retries" IS NOT NULL THEN TRY_CAST("@outcomes"[1]."retries" AS DECIMAL(38, 0)) ELSE 0 END AS "@p:o0_3v",
  CASE WHEN "@p:o0c0" IS NOT NULL THEN "@p:o0c0" WHEN "@p:o0c1" IS NOT NULL THEN "@p:o0c1" WHEN "@p:o0c2" IS NOT NULL THEN "@p:o0c2" WHEN "@p:o0c3" IS NOT NULL THEN "@p:o0c3" END AS "@p:o0code",
  CASE WHEN "@p:o0c0" IS NOT NULL THEN 'confidence' WHEN "@p:o0c1" IS NOT NULL THEN 'valid' WHEN "@p:o0c2" IS NOT NULL THEN 'tool_failures' WHEN "@p:o0c3" IS NOT NULL THEN 'retries' END AS "@p:o0signal",
  ((("@outcomes"[1]."tool_failures" IS NOT NULL AND "@outcomes"[1]."tool_failures" IS NULL) OR ("@outcomes"[1]."tool_failures" IS NOT NULL AND abs("@outcomes"[1]."tool_failures") > CAST('100000000000000000000' AS DECIMAL(38, 0)))) OR (("@outcomes"[1]."retries" IS NOT NULL AND "@outcomes"[1]."retries" IS NULL) OR ("@outcomes"[1]."retries" IS NOT NULL AND abs("@outcomes"[1]."retries") > CAST('100000000000000000000' AS DECIMAL(38, 0))))) AS "@p:o0unheld"
FROM "@p:rule"))
),
"@p:out" AS (
SELECT *,
  CASE WHEN ("@p:rule" IS NULL OR "@p:rule" = -1 OR ("@p:rule" >= 0 AND CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END < 0)) THEN NULL ELSE CASE WHEN "@p:rule" = 0 THEN 'oversized' WHEN "@p:rule" = 1 THEN 'planning' WHEN "@p:rule" = 2 THEN 'final_outward' WHEN "@p:rule" = 3 THEN 'final_internal' WHEN "@p:rule" = 4 THEN 'irreversible_act' WHEN "@p:rule" = 5 THEN 'default' END END AS "@p:o:rule",
  CASE WHEN ("@p:rule" IS NULL OR "@p:rule" = -1 OR ("@p:rule" >= 0 AND CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END < 0)) THEN NULL ELSE CASE WHEN "@p:rule" = 0 THEN NULL WHEN "@p:rule" = 1 THEN 'planner' WHEN "@p:rule" = 2 THEN 'premium' WHEN "@p:rule" = 3 THEN 'planner' WHEN "@p:rule" = 4 THEN 'planner' WHEN "@p:rule" = 5 THEN 'worker' END END AS "@p:o:model",
  CASE WHEN ("@p:rule" IS NULL OR "@p:rule" = -1 OR ("@p:rule" >= 0 AND CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END < 0)) THEN NULL ELSE CASE WHEN "@p:rule" = -2 THEN CAST([] AS VARCHAR[]) ELSE CASE WHEN "@p:rule" = 0 THEN CAST([] AS VARCHAR[]) WHEN "@p:rule" = 1 THEN CAST(['planner'] AS VARCHAR[]) WHEN "@p:rule" = 2 THEN CAST(['premium'] AS VARCHAR[]) WHEN "@p:rule" = 3 THEN CAST(['planner'] AS VARCHAR[]) WHEN "@p:rule" = 4 THEN CAST(['planner'] AS VARCHAR[]) WHEN "@p:rule" = 5 THEN CAST(['worker', 'planner'] AS VARCHAR[]) END END END AS "@p:o:steps",
  CASE WHEN ("@p:rule" IS NULL OR "@p:rule" = -1 OR ("@p:rule" >= 0 AND CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END < 0)) THEN NULL ELSE CASE WHEN "@p:rule" = 0 THEN NULL WHEN "@p:rule" = 1 THEN CAST(8000 AS BIGINT) WHEN "@p:rule" = 2 THEN CAST(8000 AS BIGINT) WHEN "@p:rule" = 3 THEN CAST(4000 AS BIGINT) WHEN "@p:rule" = 4 THEN CAST(8000 AS BIGINT) WHEN "@p:rule" = 5 THEN CAST(8000 AS BIGINT) END END AS "@p:o:max_output",
  CASE WHEN ("@p:rule" IS NULL OR "@p:rule" = -1 OR ("@p:rule" >= 0 AND CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END < 0)) THEN NULL ELSE CASE WHEN "@p:rule" = -2 THEN CAST([] AS BIGINT[]) ELSE CASE WHEN "@p:rule" = 0 THEN CAST([] AS BIGINT[]) WHEN "@p:rule" = 1 THEN CAST([8000] AS BIGINT[]) WHEN "@p:rule" = 2 THEN CAST([8000] AS BIGINT[]) WHEN "@p:rule" = 3 THEN CAST([4000] AS BIGINT[]) WHEN "@p:rule" = 4 THEN CAST([8000] AS BIGINT[]) WHEN "@p:rule" = 5 THEN CAST([8000, 8000] AS BIGINT[]) END END END AS "@p:o:caps",
  CASE WHEN ("@p:rule" IS NULL OR "@p:rule" = -1 OR ("@p:rule" >= 0 AND CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END < 0)) THEN NULL ELSE CASE WHEN "@p:rule" = 0 THEN 'transcript too long: compact it before the next step' WHEN "@p:rule" = 1 THEN NULL WHEN "@p:rule" = 2 THEN NULL WHEN "@p:rule" = 3 THEN NULL WHEN "@p:rule" = 4 THEN NULL WHEN "@p:rule" = 5 THEN NULL END END AS "@p:o:reject",
  CASE WHEN ("@p:rule" IS NULL OR "@p:rule" = -1 OR ("@p:rule" >= 0 AND CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END < 0)) THEN NULL ELSE CASE WHEN "@p:rule" = -2 THEN CAST([] AS VARCHAR[]) WHEN "@p:rule" = 0 THEN CAST([] AS VARCHAR[]) WHEN "@p:rule" = 1 THEN CAST(['planner'] AS VARCHAR[]) WHEN "@p:rule" = 2 THEN CAST(['premium'] AS VARCHAR[]) WHEN "@p:rule" = 3 THEN CAST(['planner'] AS VARCHAR[]) WHEN "@p:rule" = 4 THEN CAST(['planner'] AS VARCHAR[]) WHEN "@p:rule" = 5 AND "@p:k0" = 1 THEN CAST(['worker'] AS VARCHAR[]) WHEN "@p:rule" = 5 AND "@p:k0" = 2 THEN CAST(['worker', 'planner'] AS VARCHAR[]) END END AS "@p:o:path",
  CASE WHEN "@p:error" IS NOT NULL THEN "@p:error" WHEN ("@p:rule" = -1 OR ("@p:rule" >= 0 AND CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END <= -200)) THEN 'S001' WHEN "@p:rule" >= 0 AND CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END < 0 THEN CASE WHEN CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END = -100 THEN "@p:o0code" END END AS "@p:o:error_code",
  CASE WHEN "@p:error" IS NOT NULL THEN "@p:error_signal" WHEN "@p:rule" = -1 THEN "@p:unheld" WHEN "@p:rule" >= 0 AND CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END < 0 THEN CASE WHEN CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END = -100 THEN "@p:o0signal" END END AS "@p:o:error_signal",
  CASE WHEN "@p:rule" = 5 THEN "@p:k0" ELSE 1 END AS "@p:climb"
FROM "@p:climb"
)
SELECT "input_tokens", "document_count", "conversation_depth", "tool_count", "step_count", "step", "agentic", "external_comms", "irreversible", "compliance_sensitive", "pii", "financial", "sync", "user_tier", "remaining_budget", "@outcomes", "@output_tokens", "@p:o:rule" AS "rule", "@p:o:model" AS "model", "@p:o:steps" AS "steps", "@p:o:max_output" AS "max_output", "@p:o:caps" AS "caps", "@p:o:reject" AS "reject", "@p:o:path" AS "path", "@p:o:error_code" AS "error_code", "@p:o:error_signal" AS "error_signal"
FROM "@p:out"
