// simple-peer's prebuilt bundle needs no Node polyfills (see DEVELOPERS.md); its types are @types/simple-peer's.
declare module 'simple-peer/simplepeer.min.js' {
  import SimplePeer from 'simple-peer';
  export default SimplePeer;
}
