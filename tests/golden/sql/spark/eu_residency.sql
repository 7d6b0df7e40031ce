WITH `@p:in` AS (
  SELECT
    *
  FROM `requests`
), `@p:val` AS (
  SELECT
    *,
    CASE
      WHEN (
        NOT NOT `input_tokens` IS NULL
      )
      THEN 'R001'
      WHEN `input_tokens` IS NULL
      THEN 'R003'
      ELSE CASE WHEN (
        `input_tokens` < 0 OR `input_tokens` > 10000000
      ) THEN 'R003' END
    END AS `@p:c0`,
    CASE
      WHEN NOT `input_tokens` IS NULL
      THEN TRY_CAST(`input_tokens` AS DECIMAL(38, 0))
    END AS `@p:s0v`,
    CASE
      WHEN (
        NOT NOT `document_count` IS NULL
      )
      THEN NULL
      WHEN `document_count` IS NULL
      THEN 'R003'
      ELSE CASE WHEN (
        `document_count` < 0 OR `document_count` > 100000
      ) THEN 'R003' END
    END AS `@p:c1`,
    CASE
      WHEN NOT `document_count` IS NULL
      THEN TRY_CAST(`document_count` AS DECIMAL(38, 0))
      ELSE 0
    END AS `@p:s1v`,
    CASE
      WHEN (
        NOT NOT `conversation_depth` IS NULL
      )
      THEN NULL
      WHEN `conversation_depth` IS NULL
      THEN 'R003'
      ELSE CASE
        WHEN (
          `conversation_depth` < 0 OR `conversation_depth` > 1000000
        )
        THEN 'R003'
      END
    END AS `@p:c2`,
    CASE
      WHEN NOT `conversation_depth` IS NULL
      THEN TRY_CAST(`conversation_depth` AS DECIMAL(38, 0))
      ELSE 0
    END AS `@p:s2v`,
    CASE
      WHEN (
        NOT NOT `tool_count` IS NULL
      )
      THEN NULL
      WHEN `tool_count` IS NULL
      THEN 'R003'
      ELSE CASE WHEN (
        `tool_count` < 0 OR `tool_count` > 1000
      ) THEN 'R003' END
    END AS `@p:c3`,
    CASE
      WHEN NOT `tool_count` IS NULL
      THEN TRY_CAST(`tool_count` AS DECIMAL(38, 0))
      ELSE 0
    END AS `@p:s3v`,
    CASE
      WHEN (
        NOT NOT `step_count` IS NULL
      )
      THEN NULL
      WHEN `step_count` IS NULL
      THEN 'R003'
      ELSE CASE WHEN (
        `step_count` < 0 OR `step_count` > 1000
      ) THEN 'R003' END
    END AS `@p:c4`,
    CASE
      WHEN NOT `step_count` IS NULL
      THEN TRY_CAST(`step_count` AS DECIMAL(38, 0))
      ELSE 1
    END AS `@p:s4v`,
    CASE
      WHEN (
        NOT NOT `step` IS NULL
      )
      THEN NULL
      ELSE CASE WHEN `step` IN ('plan', 'execute', 'final') THEN NULL ELSE 'R003' END
    END AS `@p:c5`,
    CASE WHEN NOT `step` IS NULL THEN `step` ELSE 'execute' END AS `@p:s5v`,
    CASE WHEN (
      NOT NOT `agentic` IS NULL
    ) THEN NULL END AS `@p:c6`,
    CASE WHEN NOT `agentic` IS NULL THEN `agentic` ELSE FALSE END AS `@p:s6v`,
    CASE WHEN (
      NOT NOT `external_comms` IS NULL
    ) THEN NULL END AS `@p:c7`,
    CASE WHEN NOT `external_comms` IS NULL THEN `external_comms` ELSE FALSE END AS `@p:s7v`,
    CASE WHEN (
      NOT NOT `irreversible` IS NULL
    ) THEN NULL END AS `@p:c8`,
    CASE WHEN NOT `irreversible` IS NULL THEN `irreversible` ELSE FALSE END AS `@p:s8v`,
    CASE WHEN (
      NOT NOT `compliance_sensitive` IS NULL
    ) THEN NULL END AS `@p:c9`,
    CASE
      WHEN NOT `compliance_sensitive` IS NULL
      THEN `compliance_sensitive`
      ELSE FALSE
    END AS `@p:s9v`,
    CASE WHEN (
      NOT NOT `pii` IS NULL
    ) THEN NULL END AS `@p:c10`,
    CASE WHEN NOT `pii` IS NULL THEN `pii` ELSE FALSE END AS `@p:s10v`,
    CASE WHEN (
      NOT NOT `financial` IS NULL
    ) THEN NULL END AS `@p:c11`,
    CASE WHEN NOT `financial` IS NULL THEN `financial` ELSE FALSE END AS `@p:s11v`,
    CASE WHEN (
      NOT NOT `sync` IS NULL
    ) THEN NULL END AS `@p:c12`,
    CASE WHEN NOT `sync` IS NULL THEN `sync` ELSE TRUE END AS `@p:s12v`,
    CASE
      WHEN (
        NOT NOT `user_tier` IS NULL
      )
      THEN NULL
      ELSE CASE WHEN `user_tier` IN ('free', 'pro', 'enterprise') THEN NULL ELSE 'R003' END
    END AS `@p:c13`,
    CASE WHEN NOT `user_tier` IS NULL THEN `user_tier` ELSE 'free' END AS `@p:s13v`,
    CASE
      WHEN (
        NOT NOT `remaining_budget` IS NULL
      )
      THEN NULL
      ELSE CASE
        WHEN (
          `remaining_budget` < CAST('0' AS DECIMAL(18, 18))
          OR `remaining_budget` > CAST('1000000' AS DECIMAL(25, 18))
        )
        THEN 'R003'
      END
    END AS `@p:c14`,
    CASE
      WHEN NOT `remaining_budget` IS NULL
      THEN CAST(`remaining_budget` AS DOUBLE)
      ELSE CAST('1000000.0' AS DOUBLE)
    END AS `@p:s14v`,
    CASE
      WHEN NOT `remaining_budget` IS NULL
      THEN TRY_CAST(`remaining_budget` AS DECIMAL(38, 18))
      ELSE CAST('1000000' AS DECIMAL(25, 18))
    END AS `@p:s14e`,
    CASE WHEN NOT `remaining_budget` IS NULL THEN FALSE ELSE FALSE END AS `@p:s14f`,
    CASE
      WHEN (
        NOT NOT `residency` IS NULL
      )
      THEN NULL
      ELSE CASE WHEN `residency` IN ('anywhere', 'eu') THEN NULL ELSE 'R003' END
    END AS `@p:c15`,
    CASE WHEN NOT `residency` IS NULL THEN `residency` ELSE 'anywhere' END AS `@p:s15v`,
    (
      NOT `@outcomes` IS NULL AND SIZE(FILTER(`@outcomes`, x -> x IS NULL)) > 0
    ) AS `@p:shape`,
    CASE WHEN NOT `@outcomes` IS NULL THEN SIZE(`@outcomes`) ELSE 0 END AS `@p:n_outcomes`,
    CASE
      WHEN `@p:shape`
      THEN 'R002'
      WHEN NOT `@p:c0` IS NULL
      THEN `@p:c0`
      WHEN NOT `@p:c1` IS NULL
      THEN `@p:c1`
      WHEN NOT `@p:c2` IS NULL
      THEN `@p:c2`
      WHEN NOT `@p:c3` IS NULL
      THEN `@p:c3`
      WHEN NOT `@p:c4` IS NULL
      THEN `@p:c4`
      WHEN NOT `@p:c5` IS NULL
      THEN `@p:c5`
      WHEN NOT `@p:c6` IS NULL
      THEN `@p:c6`
      WHEN NOT `@p:c7` IS NULL
      THEN `@p:c7`
      WHEN NOT `@p:c8` IS NULL
      THEN `@p:c8`
      WHEN NOT `@p:c9` IS NULL
      THEN `@p:c9`
      WHEN NOT `@p:c10` IS NULL
      THEN `@p:c10`
      WHEN NOT `@p:c11` IS NULL
      THEN `@p:c11`
      WHEN NOT `@p:c12` IS NULL
      THEN `@p:c12`
      WHEN NOT `@p:c13` IS NULL
      THEN `@p:c13`
      WHEN NOT `@p:c14` IS NULL
      THEN `@p:c14`
      WHEN NOT `@p:c15` IS NULL
      THEN `@p:c15`
    END AS `@p:error`,
    CASE
      WHEN `@p:shape`
      THEN NULL
      WHEN NOT `@p:c0` IS NULL
      THEN 'input_tokens'
      WHEN NOT `@p:c1` IS NULL
      THEN 'document_count'
      WHEN NOT `@p:c2` IS NULL
      THEN 'conversation_depth'
      WHEN NOT `@p:c3` IS NULL
      THEN 'tool_count'
      WHEN NOT `@p:c4` IS NULL
      THEN 'step_count'
      WHEN NOT `@p:c5` IS NULL
      THEN 'step'
      WHEN NOT `@p:c6` IS NULL
      THEN 'agentic'
      WHEN NOT `@p:c7` IS NULL
      THEN 'external_comms'
      WHEN NOT `@p:c8` IS NULL
      THEN 'irreversible'
      WHEN NOT `@p:c9` IS NULL
      THEN 'compliance_sensitive'
      WHEN NOT `@p:c10` IS NULL
      THEN 'pii'
      WHEN NOT `@p:c11` IS NULL
      THEN 'financial'
      WHEN NOT `@p:c12` IS NULL
      THEN 'sync'
      WHEN NOT `@p:c13` IS NULL
      THEN 'user_tier'
      WHEN NOT `@p:c14` IS NULL
      THEN 'remaining_budget'
      WHEN NOT `@p:c15` IS NULL
      THEN 'residency'
    END AS `@p:error_signal`,
    CASE
      WHEN (
        (
          NOT `input_tokens` IS NULL AND `input_tokens` IS NULL
        )
        OR (
          NOT `input_tokens` IS NULL
          AND ABS(`input_tokens`) > CAST('100000000000000000000' AS DECIMAL(38, 0))
        )
      )
      THEN 'input_tokens'
      WHEN (
        (
          NOT `document_count` IS NULL AND `document_count` IS NULL
        )
        OR (
          NOT `document_count` IS NULL
          AND ABS(`document_count`) > CAST('100000000000000000000' AS DECIMAL(38, 0))
        )
      )
      THEN 'document_count'
      WHEN (
        (
          NOT `conversation_depth` IS NULL AND `conversation_depth` IS NULL
        )
        OR (
          NOT `conversation_depth` IS NULL
          AND ABS(`conversation_depth`) > CAST('100000000000000000000' AS DECIMAL(38, 0))
        )
      )
      THEN 'conversation_depth'
      WHEN (
        (
          NOT `tool_count` IS NULL AND `tool_count` IS NULL
        )
        OR (
          NOT `tool_count` IS NULL
          AND ABS(`tool_count`) > CAST('100000000000000000000' AS DECIMAL(38, 0))
        )
      )
      THEN 'tool_count'
      WHEN (
        (
          NOT `step_count` IS NULL AND `step_count` IS NULL
        )
        OR (
          NOT `step_count` IS NULL
          AND ABS(`step_count`) > CAST('100000000000000000000' AS DECIMAL(38, 0))
        )
      )
      THEN 'step_count'
      WHEN (
        NOT `remaining_budget` IS NULL
        AND ABS(CAST(`remaining_budget` AS DOUBLE)) >= CAST('1e20' AS DOUBLE)
      )
      THEN 'remaining_budget'
    END AS `@p:unheld`
  FROM `@p:in`
), `@p:cond` AS (
  SELECT
    *,
    (
      (
        `@p:s10v` OR (
          `@p:s15v` = 'eu'
        )
      ) AND `@p:s0v` > 120000
    ) AS `@p:r0`,
    (
      (
        `@p:s10v` OR (
          `@p:s15v` = 'eu'
        )
      ) AND `@p:s9v`
    ) AS `@p:r1`,
    (
      `@p:s10v` OR (
        `@p:s15v` = 'eu'
      )
    ) AS `@p:r2`,
    `@p:s0v` > 200000 AS `@p:r3`,
    `@p:s9v` AS `@p:r4`
  FROM `@p:val`
), `@p:rule` AS (
  SELECT
    *,
    CASE
      WHEN `@p:error` IS NULL AND NOT `@p:unheld` IS NULL
      THEN -1
      ELSE CASE
        WHEN NOT `@p:error` IS NULL
        THEN NULL
        WHEN `@p:r0` IS NULL
        THEN -1
        WHEN `@p:r0`
        THEN 0
        WHEN `@p:r1` IS NULL
        THEN -1
        WHEN `@p:r1`
        THEN 1
        WHEN `@p:r2` IS NULL
        THEN -1
        WHEN `@p:r2`
        THEN 2
        WHEN `@p:r3` IS NULL
        THEN -1
        WHEN `@p:r3`
        THEN 3
        WHEN `@p:r4` IS NULL
        THEN -1
        WHEN `@p:r4`
        THEN 4
        ELSE 5
      END
    END AS `@p:rule`
  FROM `@p:cond`
), `@p:climb` AS (
  SELECT
    *,
    CASE
      WHEN `@p:n_outcomes` <= 0
      THEN 1
      WHEN NOT `@p:o0code` IS NULL
      THEN -100
      WHEN `@p:o0unheld`
      THEN -200
      WHEN `@p:e0_0` IS NULL
      THEN -200
      WHEN (
        NOT `@p:e0_0`
      )
      THEN 1
      ELSE 2
    END AS `@p:k0`,
    CASE
      WHEN `@p:n_outcomes` <= 0
      THEN 1
      WHEN NOT `@p:o0code` IS NULL
      THEN -100
      WHEN `@p:o0unheld`
      THEN -200
      WHEN `@p:e1_0` IS NULL
      THEN -200
      WHEN (
        NOT `@p:e1_0`
      )
      THEN 1
      ELSE 2
    END AS `@p:k1`
  FROM (
    SELECT
      *,
      (
        `@p:o0_0v` < CAST('0.7' AS DOUBLE) OR (
          NOT `@p:o0_1v`
        )
      ) AS `@p:e0_0`,
      (
        `@p:o0_0v` < CAST('0.7' AS DOUBLE) OR (
          NOT `@p:o0_1v`
        )
      ) AS `@p:e1_0`
    FROM (
      SELECT
        *,
        CASE
          WHEN (
            NOT NOT TRY_ELEMENT_AT(`@outcomes`, 1).`confidence` IS NULL
          )
          THEN NULL
          ELSE CASE
            WHEN (
              NOT (
                NOT ISNAN(TRY_ELEMENT_AT(`@outcomes`, 1).`confidence`)
                AND ABS(TRY_ELEMENT_AT(`@outcomes`, 1).`confidence`) <= CAST('1.7976931348623157e308' AS DOUBLE)
              )
            )
            THEN 'R003'
            WHEN (
              TRY_ELEMENT_AT(`@outcomes`, 1).`confidence` < CAST('0.0' AS DOUBLE)
              OR TRY_ELEMENT_AT(`@outcomes`, 1).`confidence` > CAST('1.0' AS DOUBLE)
            )
            THEN 'R003'
          END
        END AS `@p:o0c0`,
        CASE
          WHEN NOT TRY_ELEMENT_AT(`@outcomes`, 1).`confidence` IS NULL
          THEN TRY_ELEMENT_AT(`@outcomes`, 1).`confidence`
          ELSE CAST('1.0' AS DOUBLE)
        END AS `@p:o0_0v`,
        CASE
          WHEN (
            NOT NOT TRY_ELEMENT_AT(`@outcomes`, 1).`valid` IS NULL
          )
          THEN NULL
        END AS `@p:o0c1`,
        CASE
          WHEN NOT TRY_ELEMENT_AT(`@outcomes`, 1).`valid` IS NULL
          THEN TRY_ELEMENT_AT(`@outcomes`, 1).`valid`
          ELSE TRUE
        END AS `@p:o0_1v`,
        CASE
          WHEN (
            NOT NOT TRY_ELEMENT_AT(`@outcomes`, 1).`tool_failures` IS NULL
          )
          THEN NULL
          WHEN TRY_ELEMENT_AT(`@outcomes`, 1).`tool_failures` IS NULL
          THEN 'R003'
          ELSE CASE
            WHEN (
              TRY_ELEMENT_AT(`@outcomes`, 1).`tool_failures` < 0
              OR TRY_ELEMENT_AT(`@outcomes`, 1).`tool_failures` > 1000
            )
            THEN 'R003'
          END
        END AS `@p:o0c2`,
        CASE
          WHEN NOT TRY_ELEMENT_AT(`@outcomes`, 1).`tool_failures` IS NULL
          THEN TRY_CAST(TRY_ELEMENT_AT(`@outcomes`, 1).`tool_failures` AS DECIMAL(38, 0))
          ELSE 0
        END AS `@p:o0_2v`,
        CASE
          WHEN (
            NOT NOT TRY_ELEMENT_AT(`@outcomes`, 1).`retries` IS NULL
          )
          THEN NULL
          WHEN TRY_ELEMENT_AT(`@outcomes`, 1).`retries` IS NULL
          THEN 'R003'
          ELSE CASE
            WHEN (
              TRY_ELEMENT_AT(`@outcomes`, 1).`retries` < 0
              OR TRY_ELEMENT_AT(`@outcomes`, 1).`retries` > 1000
            )
            THEN 'R003'
          END
        END AS `@p:o0c3`,
        CASE
          WHEN NOT TRY_ELEMENT_AT(`@outcomes`, 1).`retries` IS NULL
          THEN TRY_CAST(TRY_ELEMENT_AT(`@outcomes`, 1).`retries` AS DECIMAL(38, 0))
          ELSE 0
        END AS `@p:o0_3v`,
        CASE
          WHEN NOT `@p:o0c0` IS NULL
          THEN `@p:o0c0`
          WHEN NOT `@p:o0c1` IS NULL
          THEN `@p:o0c1`
          WHEN NOT `@p:o0c2` IS NULL
          THEN `@p:o0c2`
          WHEN NOT `@p:o0c3` IS NULL
          THEN `@p:o0c3`
        END AS `@p:o0code`,
        CASE
          WHEN NOT `@p:o0c0` IS NULL
          THEN 'confidence'
          WHEN NOT `@p:o0c1` IS NULL
          THEN 'valid'
          WHEN NOT `@p:o0c2` IS NULL
          THEN 'tool_failures'
          WHEN NOT `@p:o0c3` IS NULL
          THEN 'retries'
        END AS `@p:o0signal`,
        (
          (
            (
              NOT TRY_ELEMENT_AT(`@outcomes`, 1).`tool_failures` IS NULL
              AND TRY_ELEMENT_AT(`@outcomes`, 1).`tool_failures` IS NULL
            )
            OR (
              NOT TRY_ELEMENT_AT(`@outcomes`, 1).`tool_failures` IS NULL
              AND ABS(TRY_ELEMENT_AT(`@outcomes`, 1).`tool_failures`) > CAST('100000000000000000000' AS DECIMAL(38, 0))
            )
          )
          OR (
            (
              NOT TRY_ELEMENT_AT(`@outcomes`, 1).`retries` IS NULL
              AND TRY_ELEMENT_AT(`@outcomes`, 1).`retries` IS NULL
            )
            OR (
              NOT TRY_ELEMENT_AT(`@outcomes`, 1).`retries` IS NULL
              AND ABS(TRY_ELEMENT_AT(`@outcomes`, 1).`retries`) > CAST('100000000000000000000' AS DECIMAL(38, 0))
            )
          )
        ) AS `@p:o0unheld`
      FROM `@p:rule`
    )
  )
), `@p:out` AS (
  SELECT
    *,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0
          AND CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = 0
        THEN 'eu_too_large'
        WHEN `@p:rule` = 1
        THEN 'eu_review'
        WHEN `@p:rule` = 2
        THEN 'eu_bound'
        WHEN `@p:rule` = 3
        THEN 'too_large'
        WHEN `@p:rule` = 4
        THEN 'review'
        WHEN `@p:rule` = 5
        THEN 'default'
      END
    END AS `@p:o:rule`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0
          AND CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = 0
        THEN NULL
        WHEN `@p:rule` = 1
        THEN 'eu_strong'
        WHEN `@p:rule` = 2
        THEN 'eu_fast'
        WHEN `@p:rule` = 3
        THEN NULL
        WHEN `@p:rule` = 4
        THEN 'frontier'
        WHEN `@p:rule` = 5
        THEN 'fast'
      END
    END AS `@p:o:model`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0
          AND CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = -2
        THEN CAST(ARRAY() AS ARRAY<STRING>)
        ELSE CASE
          WHEN `@p:rule` = 0
          THEN CAST(ARRAY() AS ARRAY<STRING>)
          WHEN `@p:rule` = 1
          THEN CAST(ARRAY('eu_strong') AS ARRAY<STRING>)
          WHEN `@p:rule` = 2
          THEN CAST(ARRAY('eu_fast', 'eu_strong') AS ARRAY<STRING>)
          WHEN `@p:rule` = 3
          THEN CAST(ARRAY() AS ARRAY<STRING>)
          WHEN `@p:rule` = 4
          THEN CAST(ARRAY('frontier') AS ARRAY<STRING>)
          WHEN `@p:rule` = 5
          THEN CAST(ARRAY('fast', 'strong') AS ARRAY<STRING>)
        END
      END
    END AS `@p:o:steps`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0
          AND CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = 0
        THEN NULL
        WHEN `@p:rule` = 1
        THEN CAST(4000 AS BIGINT)
        WHEN `@p:rule` = 2
        THEN CAST(4000 AS BIGINT)
        WHEN `@p:rule` = 3
        THEN NULL
        WHEN `@p:rule` = 4
        THEN CAST(4000 AS BIGINT)
        WHEN `@p:rule` = 5
        THEN CAST(4000 AS BIGINT)
      END
    END AS `@p:o:max_output`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0
          AND CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = -2
        THEN CAST(ARRAY() AS ARRAY<BIGINT>)
        ELSE CASE
          WHEN `@p:rule` = 0
          THEN CAST(ARRAY() AS ARRAY<BIGINT>)
          WHEN `@p:rule` = 1
          THEN CAST(ARRAY(4000) AS ARRAY<BIGINT>)
          WHEN `@p:rule` = 2
          THEN CAST(ARRAY(4000, 4000) AS ARRAY<BIGINT>)
          WHEN `@p:rule` = 3
          THEN CAST(ARRAY() AS ARRAY<BIGINT>)
          WHEN `@p:rule` = 4
          THEN CAST(ARRAY(4000) AS ARRAY<BIGINT>)
          WHEN `@p:rule` = 5
          THEN CAST(ARRAY(4000, 4000) AS ARRAY<BIGINT>)
        END
      END
    END AS `@p:o:caps`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0
          AND CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = 0
        THEN 'input too large for the EU models'
        WHEN `@p:rule` = 1
        THEN NULL
        WHEN `@p:rule` = 2
        THEN NULL
        WHEN `@p:rule` = 3
        THEN 'input too large'
        WHEN `@p:rule` = 4
        THEN NULL
        WHEN `@p:rule` = 5
        THEN NULL
      END
    END AS `@p:o:reject`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0
          AND CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = -2
        THEN CAST(ARRAY() AS ARRAY<STRING>)
        WHEN `@p:rule` = 0
        THEN CAST(ARRAY() AS ARRAY<STRING>)
        WHEN `@p:rule` = 1
        THEN CAST(ARRAY('eu_strong') AS ARRAY<STRING>)
        WHEN `@p:rule` = 2 AND `@p:k0` = 1
        THEN CAST(ARRAY('eu_fast') AS ARRAY<STRING>)
        WHEN `@p:rule` = 2 AND `@p:k0` = 2
        THEN CAST(ARRAY('eu_fast', 'eu_strong') AS ARRAY<STRING>)
        WHEN `@p:rule` = 3
        THEN CAST(ARRAY() AS ARRAY<STRING>)
        WHEN `@p:rule` = 4
        THEN CAST(ARRAY('frontier') AS ARRAY<STRING>)
        WHEN `@p:rule` = 5 AND `@p:k1` = 1
        THEN CAST(ARRAY('fast') AS ARRAY<STRING>)
        WHEN `@p:rule` = 5 AND `@p:k1` = 2
        THEN CAST(ARRAY('fast', 'strong') AS ARRAY<STRING>)
      END
    END AS `@p:o:path`,
    CASE
      WHEN NOT `@p:error` IS NULL
      THEN `@p:error`
      WHEN (
        `@p:rule` = -1
        OR (
          `@p:rule` >= 0
          AND CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END <= -200
        )
      )
      THEN 'S001'
      WHEN `@p:rule` >= 0
      AND CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END < 0
      THEN CASE
        WHEN CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END = -100
        THEN `@p:o0code`
      END
    END AS `@p:o:error_code`,
    CASE
      WHEN NOT `@p:error` IS NULL
      THEN `@p:error_signal`
      WHEN `@p:rule` = -1
      THEN `@p:unheld`
      WHEN `@p:rule` >= 0
      AND CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END < 0
      THEN CASE
        WHEN CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END = -100
        THEN `@p:o0signal`
      END
    END AS `@p:o:error_signal`,
    CASE WHEN `@p:rule` = 2 THEN `@p:k0` WHEN `@p:rule` = 5 THEN `@p:k1` ELSE 1 END AS `@p:climb`
  FROM `@p:climb`
)
SELECT
  `input_tokens`,
  `document_count`,
  `conversation_depth`,
  `tool_count`,
  `step_count`,
  `step`,
  `agentic`,
  `external_comms`,
  `irreversible`,
  `compliance_sensitive`,
  `pii`,
  `financial`,
  `sync`,
  `user_tier`,
  `remaining_budget`,
  `residency`,
  `@outcomes`,
  `@output_tokens`,
  `@p:o:rule` AS `rule`,
  `@p:o:model` AS `model`,
  `@p:o:steps` AS `steps`,
  `@p:o:max_output` AS `max_output`,
  `@p:o:caps` AS `caps`,
  `@p:o:reject` AS `reject`,
  `@p:o:path` AS `path`,
  `@p:o:error_code` AS `error_code`,
  `@p:o:error_signal` AS `error_signal`
FROM `@p:out`
