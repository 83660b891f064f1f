/** Protocol identifiers, in a module light enough for `tribles --version` to import. */
export const PROTOCOL_V4 = "/triblespace/pile-sync/4";
export const PROTOCOL_V5 = "/tribles/pile-sync/5";
