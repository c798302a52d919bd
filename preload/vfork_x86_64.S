/*
 * vfork_x86_64.S - vfork with the shim's preparation, without a C frame.
 *
 * The vfork child runs on the parent's stack until it execs or exits; a C
 * wrapper's frame would be popped by the child's return and then reused by
 * the parent. So: call the preparation (which returns the real vfork),
 * restore the stack exactly, and jump. The real vfork returns to our caller.
 */
	.text
	.globl	vfork
	.type	vfork, @function
vfork:
	.cfi_startproc
	sub	$8, %rsp		/* align the stack for the call */
	.cfi_adjust_cfa_offset 8
	call	shim_vfork_prepare
	add	$8, %rsp
	.cfi_adjust_cfa_offset -8
	jmp	*%rax
	.cfi_endproc
	.size	vfork, .-vfork

	.section .note.GNU-stack,"",@progbits
