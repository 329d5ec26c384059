/* The measured rcp.approx.ftz.f32 delta table (fixtures/data/rcp_approx_ftz_sm90_delta2bit.bin,
   2 MiB, 2 bits per fp32 mantissa), linked in read-only so every binary is self-contained. */
    .section .rodata
    .balign 64
    .global moecheck_rcp_delta_table
    .global moecheck_rcp_delta_table_end
moecheck_rcp_delta_table:
    .incbin MOECHECK_RCP_TABLE_PATH
moecheck_rcp_delta_table_end:
    .section .note.GNU-stack,"",@progbits
