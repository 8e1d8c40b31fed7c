// Each tenant's block namespace (DESIGN.md §3): the chain root over the model, KV layout, block
// size and the tenant's salt, derived from the authenticated tenant and the server secret only,
// so two tenants never share a block hash. Cached per tenant.
import { namespaceHash, tenantSalt, type BlockHash } from "@kvtier/kv-router";
import { KV_BLOCK_LAYOUT_VERSION } from "@kvtier/tensor";

/** Namespace hashes by tenant. */
export class TenantNamespaces {
  private readonly byTenant = new Map<string, BlockHash>();

  constructor(
    private readonly modelId: string,
    private readonly blockSize: number,
    private readonly tenantSecret: string,
  ) {}

  /** The chain root of `tenant`'s blocks. */
  of(tenant: string): BlockHash {
    let ns = this.byTenant.get(tenant);
    if (ns === undefined) {
      ns = namespaceHash({
        modelId: this.modelId,
        layoutVersion: KV_BLOCK_LAYOUT_VERSION,
        blockSize: this.blockSize,
        tenantSalt: tenantSalt(tenant, this.tenantSecret),
      });
      this.byTenant.set(tenant, ns);
    }
    return ns;
  }
}
