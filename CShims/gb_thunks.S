/*
 * gb_thunks.S — the kernel's return and indirect-call thunks, written as the kernel writes them
 * (arch/x86/lib/retpoline.S), for the out-of-line release functions of gb_kcalls.c.
 *
 * __x86_return_thunk: what clang's function_return("thunk-extern") makes every `ret` of those
 * functions jump to. Here it is the kernel's srso_return_thunk with spec_rstack_overflow
 * "Safe RET": `call srso_safe_ret; ud2`, and srso_safe_ret is `lea 8(%rsp), %rsp; ret`, which
 * drops the return address the call just pushed and returns to the function's caller. The
 * return-stack buffer predicted a return to the ud2, so every such return mispredicts: the
 * point of the mitigation, and its cost.
 *
 * gb_indirect_thunk_rax: the kernel's __x86_indirect_thunk_rax retpoline: the indirect branch to
 * %rax is made by a `ret` whose speculation is trapped in a pause/lfence loop.
 */
#if defined(__x86_64__) && defined(__linux__)
    .text

    .globl  __x86_return_thunk
    .hidden __x86_return_thunk
    .type   __x86_return_thunk, @function
    .p2align 6
__x86_return_thunk:                 /* kernel: srso_return_thunk */
    call    gb_srso_safe_ret
    ud2
    .size   __x86_return_thunk, .-__x86_return_thunk

    .globl  gb_srso_safe_ret
    .hidden gb_srso_safe_ret
    .type   gb_srso_safe_ret, @function
gb_srso_safe_ret:                   /* kernel: srso_safe_ret */
    lea     8(%rsp), %rsp
    ret
    int3
    .size   gb_srso_safe_ret, .-gb_srso_safe_ret

    .globl  gb_indirect_thunk_rax
    .hidden gb_indirect_thunk_rax
    .type   gb_indirect_thunk_rax, @function
    .p2align 5
gb_indirect_thunk_rax:              /* kernel: __x86_indirect_thunk_rax (RETPOLINE) */
    call    1f
2:  pause
    lfence
    jmp     2b
1:  mov     %rax, (%rsp)
    ret
    .size   gb_indirect_thunk_rax, .-gb_indirect_thunk_rax

    /* void gb_call_through_retpoline(void (*fn)(void)): `call *%rax` the retpoline way; fn
     * returns straight to our caller (a tail call through the thunk). */
    .globl  gb_call_through_retpoline
    .type   gb_call_through_retpoline, @function
gb_call_through_retpoline:
    mov     %rdi, %rax
    jmp     gb_indirect_thunk_rax
    .size   gb_call_through_retpoline, .-gb_call_through_retpoline

    .section .note.GNU-stack, "", @progbits
#endif
