// The allow-lists behind `readOnly`: builtin functions and operators known to write nothing, take
// no lock a standby refuses and work on a standby. Anything not listed makes a statement not read-only.

/**
 * Functions by their pg_catalog name, including the names the grammar itself produces for SQL
 * syntax (EXTRACT → extract, AT TIME ZONE → timezone, TRIM → btrim, LIKE ... ESCAPE → like_escape).
 * Left out on purpose: nextval/setval/currval/lastval, set_config, pg_notify, every advisory lock,
 * txid_current and pg_current_xact_id (they assign a transaction id), pg_current_wal_lsn and the
 * other WAL-position functions (they fail during recovery), pg_cancel_backend/pg_terminate_backend,
 * pg_reload_conf, setseed (it sets session state), dblink and every other extension function.
 */
export const READ_ONLY_FUNCTIONS: ReadonlySet<string> = new Set([
  // aggregates
  'count', 'sum', 'avg', 'min', 'max', 'array_agg', 'string_agg', 'bool_and', 'bool_or', 'every',
  'bit_and', 'bit_or', 'bit_xor', 'json_agg', 'jsonb_agg', 'json_object_agg', 'jsonb_object_agg',
  'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp', 'corr', 'covar_pop',
  'covar_samp', 'regr_avgx', 'regr_avgy', 'regr_count', 'regr_intercept', 'regr_r2', 'regr_slope',
  'regr_sxx', 'regr_sxy', 'regr_syy', 'percentile_cont', 'percentile_disc', 'mode', 'any_value',
  // window functions
  'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead',
  'first_value', 'last_value', 'nth_value',
  // numbers
  'abs', 'ceil', 'ceiling', 'floor', 'round', 'trunc', 'sign', 'sqrt', 'cbrt', 'power', 'pow', 'exp',
  'ln', 'log', 'log10', 'mod', 'div', 'pi', 'degrees', 'radians', 'sin', 'cos', 'tan', 'asin', 'acos',
  'atan', 'atan2', 'width_bucket', 'gcd', 'lcm', 'scale', 'random',
  // text
  'lower', 'upper', 'initcap', 'length', 'char_length', 'character_length', 'octet_length',
  'bit_length', 'substr', 'substring', 'position', 'strpos', 'btrim', 'ltrim', 'rtrim', 'replace',
  'translate', 'concat', 'concat_ws', 'format', 'left', 'right', 'lpad', 'rpad', 'repeat', 'reverse',
  'split_part', 'string_to_array', 'array_to_string', 'regexp_replace', 'regexp_match',
  'regexp_matches', 'regexp_split_to_array', 'regexp_split_to_table', 'regexp_like', 'regexp_count',
  'regexp_instr', 'regexp_substr', 'starts_with', 'md5', 'sha224', 'sha256', 'sha384', 'sha512',
  'encode', 'decode', 'chr', 'ascii', 'quote_ident', 'quote_literal', 'quote_nullable', 'overlay',
  'like_escape', 'similar_to_escape', 'normalize', 'is_normalized', 'to_hex', 'unistr',
  // dates and times
  'now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp', 'timeofday',
  'date_trunc', 'date_part', 'date_bin', 'extract', 'age', 'timezone', 'make_date', 'make_time',
  'make_interval', 'make_timestamp', 'make_timestamptz', 'justify_days', 'justify_hours',
  'justify_interval', 'isfinite', 'to_char', 'to_number', 'to_date', 'to_timestamp', 'overlaps',
  // arrays and set-returning functions
  'generate_series', 'generate_subscripts', 'unnest', 'array_length', 'array_upper', 'array_lower',
  'array_ndims', 'array_dims', 'cardinality', 'array_position', 'array_positions', 'array_append',
  'array_prepend', 'array_cat', 'array_remove', 'array_replace', 'array_fill', 'trim_array',
  // json and jsonb
  'to_json', 'to_jsonb', 'row_to_json', 'array_to_json', 'json_build_object', 'jsonb_build_object',
  'json_build_array', 'jsonb_build_array', 'json_object', 'jsonb_object', 'json_array_length',
  'jsonb_array_length', 'json_each', 'jsonb_each', 'json_each_text', 'jsonb_each_text',
  'json_extract_path', 'jsonb_extract_path', 'json_extract_path_text', 'jsonb_extract_path_text',
  'json_object_keys', 'jsonb_object_keys', 'json_array_elements', 'jsonb_array_elements',
  'json_array_elements_text', 'jsonb_array_elements_text', 'json_typeof', 'jsonb_typeof',
  'json_strip_nulls', 'jsonb_strip_nulls', 'jsonb_set', 'jsonb_set_lax', 'jsonb_insert',
  'jsonb_pretty', 'jsonb_path_query', 'jsonb_path_query_array', 'jsonb_path_query_first',
  'jsonb_path_exists', 'jsonb_path_match', 'json_populate_record', 'jsonb_populate_record',
  'json_populate_recordset', 'jsonb_populate_recordset', 'json_to_record', 'jsonb_to_record',
  'json_to_recordset', 'jsonb_to_recordset',
  // full text search
  'to_tsvector', 'to_tsquery', 'plainto_tsquery', 'phraseto_tsquery', 'websearch_to_tsquery',
  'ts_rank', 'ts_rank_cd', 'ts_headline', 'setweight', 'strip', 'numnode', 'querytree',
  // casts written as calls
  'bool', 'int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'text', 'varchar', 'date', 'time',
  'timestamp', 'timestamptz', 'interval', 'uuid', 'inet', 'cidr',
  // session and server information (read, never written)
  'version', 'current_setting', 'current_database', 'current_schema', 'current_schemas',
  'pg_backend_pid', 'pg_is_in_recovery', 'pg_postmaster_start_time', 'pg_conf_load_time',
  'inet_server_addr', 'inet_server_port', 'inet_client_addr', 'inet_client_port', 'pg_typeof',
  'format_type', 'pg_collation_for', 'pg_sleep', 'gen_random_uuid', 'obj_description',
  'col_description', 'shobj_description', 'has_table_privilege', 'has_schema_privilege',
  'has_database_privilege', 'has_column_privilege', 'has_function_privilege', 'pg_has_role',
  'pg_table_is_visible', 'pg_get_viewdef', 'pg_get_indexdef', 'pg_get_constraintdef',
  'pg_get_functiondef', 'pg_get_function_arguments', 'pg_get_function_result', 'pg_get_expr',
  'pg_get_userbyid', 'pg_get_serial_sequence', 'pg_relation_size', 'pg_table_size',
  'pg_indexes_size', 'pg_total_relation_size', 'pg_database_size', 'pg_column_size', 'pg_size_pretty',
  'pg_size_bytes', 'pg_encoding_to_char', 'pg_last_wal_receive_lsn', 'pg_last_wal_replay_lsn',
  'pg_last_xact_replay_timestamp',
]);

/**
 * Operator spellings that only the builtin operators use in practice. The grammar cannot tell a
 * builtin `+` from one a user defined on his own type; that is the one trust this list takes.
 */
export const READ_ONLY_OPERATORS: ReadonlySet<string> = new Set([
  '=', '<>', '<', '>', '<=', '>=', '+', '-', '*', '/', '%', '^', '||', '|/', '||/', '@', '&', '|',
  '#', '~', '<<', '>>', '<<=', '>>=', '~~', '!~~', '~~*', '!~~*', '!~', '~*', '!~*', '->', '->>',
  '#>', '#>>', '@>', '<@', '?', '?|', '?&', '#-', '@?', '@@', '&&', '-|-', '<->', '&<', '&>', '^@',
]);
