// The registry `kvtier eval-quality` scores by default: every codec row, then every policy row.
import { QualityMethodRegistry } from "./method-registry.js";
import { registerCodecMethods } from "./methods/codec-methods.js";
import { registerPolicyMethods } from "./methods/policy-methods.js";

/** A fresh registry holding the built-in codec and policy rows. */
export function defaultMethodRegistry(): QualityMethodRegistry {
  const registry = new QualityMethodRegistry();
  registerCodecMethods(registry);
  registerPolicyMethods(registry);
  return registry;
}
