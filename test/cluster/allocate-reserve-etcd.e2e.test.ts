// <allocate> reserved in the etcd cluster store before a node acts (issue 11): test/helpers/alloc-reserve.ts.
import { allocReserveTests } from "../helpers/alloc-reserve.js";

allocReserveTests("are", "etcd");
