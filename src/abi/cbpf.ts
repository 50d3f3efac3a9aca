/**
 * @module abi/cbpf
 * Classic BPF encoding (include/uapi/linux/filter.h, linux/bpf_common.h): the opcode fields of
 * `struct sock_filter`, the classic-only modes and classes, and the ancillary load offsets
 * (SKF_AD_*) that the generic checker knows. Numeric values only; no behaviour.
 *
 *   code (u16, only the low byte is used):
 *                 +----------------+--------+--------------------+
 *   ALU/JMP       |  operation (4) | src(1) | instruction class  |
 *   LD/LDX        |  mode (3)      | size(2)| instruction class  |
 *   RET           |  (0)      rval (2)    | class = 6          |
 *   MISC          |  miscop (5)           | class = 7          |
 *                 +----------------+--------+--------------------+
 *                  7              4   3    2                    0
 */
export {
  BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_ALU, BPF_JMP, BPF_K, BPF_X,
  BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR,
  BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET,
  BPF_W, BPF_H, BPF_B, BPF_IMM, BPF_ABS, BPF_IND, BPF_MEM,
} from './bpf.js';

/** Classic-only classes: eBPF reuses 6 for JMP32 and 7 for ALU64. */
export const BPF_RET = 0x06;
export const BPF_MISC = 0x07;

/** Classic-only LD/LDX modes. */
export const BPF_LEN = 0x80;
export const BPF_MSH = 0xa0;

/** RET source: BPF_K (constant), BPF_X, BPF_A (accumulator). */
export const BPF_A = 0x10;
export const BPF_RVAL = (code: number): number => code & 0x18;

/** MISC operations. */
export const BPF_TAX = 0x00;
export const BPF_TXA = 0x80;
export const BPF_MISCOP = (code: number): number => code & 0xf8;

/** Ancillary data loads: LD ABS with k = SKF_AD_OFF + SKF_AD_* (socket filters only). */
export const SKF_AD_OFF = 0xfffff000; // -0x1000 as u32
export const SKF_AD_PROTOCOL = 0;
export const SKF_AD_PKTTYPE = 4;
export const SKF_AD_IFINDEX = 8;
export const SKF_AD_NLATTR = 12;
export const SKF_AD_NLATTR_NEST = 16;
export const SKF_AD_MARK = 20;
export const SKF_AD_QUEUE = 24;
export const SKF_AD_HATYPE = 28;
export const SKF_AD_RXHASH = 32;
export const SKF_AD_CPU = 36;
export const SKF_AD_ALU_XOR_X = 40;
export const SKF_AD_VLAN_TAG = 44;
export const SKF_AD_VLAN_TAG_PRESENT = 48;
export const SKF_AD_PAY_OFFSET = 52;
export const SKF_AD_RANDOM = 56;
export const SKF_AD_VLAN_TPID = 60;
export const SKF_AD_MAX = 64;
