// Native addons imported `with { type: "file" }` resolve to the path of the embedded file.
declare module "*.node" {
  const path: string;
  export default path;
}
